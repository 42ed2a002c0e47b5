"""Motion, region detection and tracking on the real footage with the real model."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import sqlite3
import subprocess
import sys
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from tests.support.footage import compose, empty_scene, plaza_and_walkers, two_walkers
from vigil_engine.capture.source import Frame
from vigil_engine.config import MotionConfig, parse_config
from vigil_engine.detect.model import Model
from vigil_engine.detect.planner import LookPlanner
from vigil_engine.detect.pool import DetectorPool
from vigil_engine.detect.regions import (
    box_area,
    intersection,
    iou,
    merge_detections,
    plan_regions,
)
from vigil_engine.detect.types import Box, Detection
from vigil_engine.events.bus import EventBus
from vigil_engine.events.manager import EventManager
from vigil_engine.events.snapshots import SnapshotWriter
from vigil_engine.motion.detector import MotionDetector
from vigil_engine.store.db import EventQuery, Store
from vigil_engine.track.tracker import Tracker

W, H = 768, 576


def frames(path: Path, step: int = 2, limit: int = 800) -> Iterator[tuple[int, np.ndarray]]:
    with av.open(str(path)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i >= limit:
                return
            if i % step == 0:
                yield i, f.to_ndarray(format="rgb24")


@pytest.fixture(scope="module")
def model(model_path: Path) -> Model:
    return Model(model_path, threads=2)


def detect_people(model: Model, rgb: np.ndarray, regions: list[Box]) -> list[Detection]:
    found = []
    for r in regions:
        x1, y1, x2, y2 = r
        img = np.asarray(Image.fromarray(rgb[y1:y2, x1:x2]).resize((300, 300)))
        for d in model.detect(img, 0.5):
            if d.label == "person":
                bx = d.box
                w, h = x2 - x1, y2 - y1
                box = (int(x1 + bx[0] * w), int(y1 + bx[1] * h), int(x1 + bx[2] * w),
                       int(y1 + bx[3] * h))
                found.append(Detection("person", d.score, box, r))
    return merge_detections(found)


def resident_bytes(path: Path) -> int:
    """This process's resident bytes of its memory mappings of ``path`` (a file, or every
    file under a directory)."""
    total, current, target = 0, "", str(path.resolve())
    with open("/proc/self/smaps", encoding="utf-8") as smaps:
        for line in smaps:
            fields = line.split()
            if fields[0].endswith(":"):
                if fields[0] == "Rss:" and (current == target
                                            or current.startswith(target + "/")):
                    total += int(fields[1]) * 1024
            else:
                current = fields[5] if len(fields) > 5 else ""
    return total


def test_the_loaded_model_file_is_not_held_in_memory_and_finds_the_same(
        model_path: Path, footage_mp4: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once XNNPACK has packed the weights, the model file's pages (5.9 MB, the whole file)
    are released: every camera's engine is that much smaller, and it finds the same people
    with the same scores and boxes as a model that keeps them."""
    crops = [np.ascontiguousarray(np.asarray(Image.fromarray(rgb[y:y + 300, x:x + 300])))
             for i, rgb in frames(footage_mp4, step=40, limit=400)
             for x, y in [((i * 7) % (W - 300), (i * 3) % (H - 300))]]
    lean = Model(model_path, threads=2)
    found = [lean.detect(c, 0.3) for c in crops]
    assert sum(d.label == "person" for ds in found for d in ds) >= 5  # real people found
    # Every model of this process (lean, the module's, others still alive) together.
    assert resident_bytes(model_path) < model_path.stat().st_size / 5
    monkeypatch.setattr("vigil_engine.detect.model.release_file_pages", lambda _p: 0)
    kept = Model(model_path, threads=2)
    assert resident_bytes(model_path) > model_path.stat().st_size * 0.9
    assert [kept.detect(c, 0.3) for c in crops] == found


LITERT_CODE = """
import sys
from pathlib import Path
import numpy as np
from PIL import Image
import ai_edge_litert
import vigil_engine.detect.model as model
from tests.test_vision import frames, resident_bytes
if sys.argv[1] == "kept":
    model.release_file_pages = lambda _p: 0
m = model.Model(Path(sys.argv[2]), threads=2)
found = 0
for i, rgb in frames(Path(sys.argv[3]), step=40, limit=400):
    crop = np.asarray(Image.fromarray(rgb[100:400, 200:500]))
    found += sum(d.label == "person" for d in m.detect(crop, 0.3))
print(resident_bytes(Path(ai_edge_litert.__file__).parent), found)
"""


def test_litert_code_only_building_an_interpreter_ran_is_not_held_in_memory(
        model_path: Path, footage_mp4: Path) -> None:
    """Building an interpreter registers every operator LiteRT knows, touching 9.4 MB of
    its code that inference with this model never runs again: those pages are released
    (they come back from the page cache if ever run), inference brings back what it
    uses, and the same people are found. A fresh process each way (the pages of a
    library are the process's once touched)."""
    def run(how: str) -> tuple[int, int]:
        out = subprocess.run([sys.executable, "-c", LITERT_CODE, how, str(model_path),
                              str(footage_mp4)], capture_output=True, text=True, check=True,
                             env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
        code, found = out.stdout.split()
        return int(code), int(found)

    lean, lean_found = run("released")
    kept, kept_found = run("kept")
    assert lean_found == kept_found and lean_found >= 5  # real people, the same
    assert kept > 6_000_000, kept  # what is at stake: LiteRT's code touched at start
    # What inference brings back depends on how the page cache holds the library's file
    # (its folios are mapped whole): 2.7 MB for one install, 4.7 MB for another.
    assert lean < kept / 2, (lean, kept)


def test_motion_finds_the_walkers(footage_mp4: Path, model: Model) -> None:
    motion = MotionDetector(W, H, MotionConfig())
    covered = people = 0
    for i, rgb in frames(footage_mp4):
        result = motion.process(rgb)
        if i >= 100 and i % 50 == 0:
            for p in detect_people(model, rgb, [(0, 0, W, H)]):
                if p.score < 0.7:
                    continue
                people += 1
                cx, cy = (p.box[0] + p.box[2]) / 2, (p.box[1] + p.box[3]) / 2
                covered += any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in result.boxes)
    assert people >= 20
    assert covered / people >= 0.7, (covered, people)  # most walkers are in a motion box


def test_many_cameras_motion_holds_little_memory_and_each_sees_its_own(
        footage_mp4: Path) -> None:
    """Every camera runs motion five times a second in its own thread. Its working arrays
    are shared by all cameras (only the samples processed at once need them), not held
    per camera: 32 cameras' detectors hold about their backgrounds (they held 12.7 MB).
    Cameras processed side by side in threads see exactly what each sees alone."""
    samples = [motion_grey for _, motion_grey in frames(footage_mp4, step=8, limit=400)]
    probe = MotionDetector(W, H, MotionConfig())
    lw, lh = probe.grid_size
    greys = [np.asarray(Image.fromarray(rgb).convert("L").resize((lw, lh)))
             for rgb in samples]

    def watch(start: int) -> list[tuple[list[Box], float, bool]]:
        motion = MotionDetector(W, H, MotionConfig())
        out = []
        for k in range(30):
            r = motion.process_grey(greys[(start + k) % len(greys)].copy())
            out.append((r.boxes, r.changed, r.recalibrated))
        return out

    alone = [watch(c) for c in range(8)]
    assert sum(len(boxes) for cam in alone for boxes, _, _ in cam) > 50  # walkers seen
    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(watch, range(8)))
    assert together == alone

    tracemalloc.start()
    try:
        cameras = [MotionDetector(W, H, MotionConfig()) for _ in range(32)]
        with ThreadPoolExecutor(4) as pool:
            for grey in greys[:5]:
                list(pool.map(MotionDetector.process_grey, cameras,
                              [grey.copy() for _ in cameras]))
        held = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    background = lw * lh * (4 + 1)  # float32 background and the bool watch mask
    assert held < 32 * background * 1.5 + 8 * 320_000, held


def test_global_brightness_change_recalibrates_instead_of_triggering(footage_mp4: Path) -> None:
    motion = MotionDetector(W, H, MotionConfig())
    still = next(rgb for _, rgb in frames(footage_mp4))
    for _ in range(5):
        assert motion.process(still).boxes == []
    bright = np.clip(still.astype(np.int16) + 70, 0, 255).astype(np.uint8)  # lights on
    result = motion.process(bright)
    assert result.recalibrated and result.boxes == []
    assert motion.recalibrations == 1
    for _ in range(5):
        assert motion.process(bright).boxes == []
    cloud = (still * 0.75).astype(np.uint8)  # a cloud: a gentler, multiplicative dimming
    assert motion.process(cloud).boxes == []


@pytest.mark.parametrize("masked", [False, True], ids=["whole view", "half masked"])
def test_a_slow_dusk_is_no_motion_and_the_walker_after_it_is(footage_mp4: Path,
                                                             masked: bool) -> None:
    """The light falls by half over a minute (5 samples a second): gain compensation
    weighs each sample against the background's brightness, which the detector keeps up
    to date as it learns, so dusk is no motion anywhere and at most one relearning of the
    scene (once the light has drifted far from the background), and someone walking
    through the dim scene afterwards is still seen."""
    mask = (((0.0, 0.0), (W / 2, 0.0), (W / 2, H), (0.0, H)),) if masked else ()
    motion = MotionDetector(W, H, MotionConfig(mask=mask))
    clip = [rgb for _, rgb in frames(footage_mp4, limit=400)]
    still = empty_scene(clip[::40])  # the plaza with nobody walking
    for k in range(300):
        dim = (still * (1.0 - 0.5 * k / 299)).astype(np.uint8)
        result = motion.process(dim)
        assert result.boxes == [], f"dusk reported as motion at sample {k}"
    assert motion.recalibrations <= 1
    walkers = [motion.process((rgb * 0.5).astype(np.uint8)).boxes for rgb in clip[100:160]]
    assert sum(bool(b) for b in walkers) >= 50, "the walkers in the dim scene are missed"


def test_motion_mask_hides_changes_beneath_it(footage_mp4: Path) -> None:
    left = MotionConfig(mask=(((0.0, 0.0), (W / 2, 0.0), (W / 2, H), (0.0, H)),))
    masked = MotionDetector(W, H, left)
    boxes: list[Box] = []
    for _, rgb in frames(footage_mp4, limit=300):
        boxes += masked.process(rgb).boxes
    assert boxes, "motion on the unmasked half must still be seen"
    assert all(b[2] > W / 2 - 16 for b in boxes), "no motion box lies wholly in the masked half"


def test_regions_find_small_distant_people_the_squeezed_frame_misses(
        footage_mp4: Path, model: Model) -> None:
    motion = MotionDetector(W, H, MotionConfig())
    small_full = small_regions = total_full = total_regions = 0
    for i, rgb in frames(footage_mp4):
        result = motion.process(rgb)
        if i >= 100 and i % 40 == 0:
            full = detect_people(model, rgb, [(0, 0, W, H)])
            regional = detect_people(model, rgb, plan_regions(result.boxes, W, H))
            total_full += len(full)
            total_regions += len(regional)
            small_full += sum(d.box[3] - d.box[1] < 45 for d in full)
            small_regions += sum(d.box[3] - d.box[1] < 45 for d in regional)
    assert small_regions > small_full
    assert total_regions >= total_full


def test_regions_are_squares_inside_the_frame() -> None:
    regions = plan_regions([(10, 10, 30, 60), (700, 500, 760, 570), (300, 100, 700, 560)], W, H)
    for x1, y1, x2, y2 in regions:
        assert 0 <= x1 < x2 <= W and 0 <= y1 < y2 <= H
        assert x2 - x1 == y2 - y1 >= 300
    # Two parked cars near the same corner get the same corner square: the model looks
    # at those pixels once, not twice (it did, on every quiet camera's recheck).
    assert plan_regions([(653, 45, 723, 98), (733, 51, 768, 94)], W, H) == [(468, 0, 768, 300)]


# ---------------------------------------------------------------------- tracking


def camera_config(**cam: object) -> object:
    base = {"inputs": [{"url": "rtsp://127.0.0.1/x"}], "detect": {"width": W, "height": H}}
    return parse_config({"data_dir": "/tmp/x", "cameras": {"cam": {**base, **cam}}}).cameras["cam"]


def det(label: str, box: Box, score: float = 0.85) -> Detection:
    return Detection(label, score, box, (0, 0, W, H))


def test_one_frame_false_positives_are_never_confirmed() -> None:
    tracker = Tracker(camera_config())  # type: ignore[arg-type]
    t0 = 1000.0
    tracker.update([det("person", (100, 100, 140, 200), 0.9)], t0, [(0, 0, W, H)])
    for k in range(1, 10):
        tracker.update([], t0 + k * 0.2, [(0, 0, W, H)])
    assert not any(t.confirmed for t in tracker.tracks.values())
    assert tracker.tracks == {}  # looked for and gone


def test_low_median_score_is_not_confirmed() -> None:
    tracker = Tracker(camera_config())  # type: ignore[arg-type]
    for k in range(10):
        tracker.update([det("person", (100 + k * 5, 100, 140 + k * 5, 200), 0.55)],
                       1000 + k * 0.2, [(0, 0, W, H)])
    (track,) = tracker.tracks.values()
    assert track.hits == 10 and not track.confirmed


def test_walking_person_keeps_one_id_and_becomes_active() -> None:
    tracker = Tracker(camera_config())  # type: ignore[arg-type]
    ids = set()
    for k in range(15):
        upd = tracker.update([det("person", (100 + k * 8, 200, 140 + k * 8, 300))],
                             1000 + k * 0.2, [(0, 0, W, H)])
        ids |= {t.id for t in upd.seen}
    assert len(ids) == 1
    (track,) = tracker.tracks.values()
    assert track.confirmed and track.moved and track.active and not track.stationary


def test_parked_car_is_stationary_and_never_active() -> None:
    tracker = Tracker(camera_config())  # type: ignore[arg-type]
    for k in range(80):  # 16 s at 5 fps, jittering by a pixel or two
        j = k % 3
        tracker.update([det("car", (600 + j, 30, 700 + j, 100 - j))], 1000 + k * 0.2,
                       [(0, 0, W, H)])
    (car,) = tracker.tracks.values()
    assert car.confirmed and car.stationary and not car.moved and not car.active


def test_a_parked_car_is_rechecked_rarely_a_still_person_often_and_a_car_leaving_at_once(
        ) -> None:
    """An idle camera's CPU went a third on looking at its parked cars every 5 s. A parked
    car is in no event: a look every 30 s at most, and when it drives off its motion is
    looked at on that sample. A person standing still keeps an event open: a look every
    5 s."""
    tracker = Tracker(camera_config())  # type: ignore[arg-type]
    planner = LookPlanner(W, H, 300, 5.0)
    car: Box = (600, 30, 700, 100)
    person: Box = (100, 300, 140, 400)
    looks: dict[str, list[float]] = {"car": [], "person": []}
    for k in range(60 * 5):  # a minute at 5 fps, nothing moving
        now = 1000 + k * 0.2
        regions = planner.plan([], *tracker.due_looks(now), now)
        if k == 0:
            regions = [(0, 0, W, H)]  # the connect scan
        dets = [det(label, box) for label, box in (("car", car), ("person", person))
                if any(intersection(box, r) == box_area(box) for r in regions)]
        for d in dets:
            looks[d.label].append(now)
        tracker.update(dets, now, regions)
    settled = 1000 + 15.0  # both known to stand still by then
    car_looks = [t for t in looks["car"] if t > settled]
    person_looks = [t for t in looks["person"] if t > settled]
    assert len(car_looks) <= 1, car_looks  # nothing changed where it stands: see below
    assert len(person_looks) >= 8, person_looks
    # The car drives off: motion at its place is looked at on the sample it appears.
    now = 1000 + 60 * 5 * 0.2
    regions = planner.plan([(590, 30, 710, 100)], *tracker.due_looks(now), now)
    assert any(intersection(car, r) == box_area(car) for r in regions)


def parked_car_looks(cam: object, minutes: float,
                     relearn_at: float | None = None) -> tuple[list[float], Tracker]:
    """When a parked car is looked at on a camera where nothing moves (seconds after the
    connect scan), with the scene relearnt at ``relearn_at`` s (lights switched on)."""
    tracker = Tracker(cam)  # type: ignore[arg-type]
    planner = LookPlanner(W, H, 300, 5.0)
    car: Box = (600, 30, 700, 100)
    looks: list[float] = []
    for k in range(int(minutes * 60 * 5)):
        now = 1000 + k * 0.2
        regions = planner.plan([], *tracker.due_looks(now), now)
        if k == 0:
            regions = [(0, 0, W, H)]  # the connect scan
        tracker.motion_seen([], everywhere=relearn_at is not None and k == int(relearn_at * 5))
        dets = [det("car", car)] if any(intersection(car, r) == box_area(car)
                                         for r in regions) else []
        looks += [now - 1000] if dets else []
        tracker.update(dets, now, regions)
    return looks, tracker


def test_a_parked_car_where_nothing_changed_is_looked_at_every_two_minutes() -> None:
    """A parked car cannot drive off without changing its pixels. While motion saw nothing
    change where it stands, a look every 2 minutes (not 30 s: each look is 20-45 ms of
    CPU, most of an idle camera's cost beyond decoding), and it is never forgotten. Where
    the motion mask hides it, or the scene was relearnt (lights on), every 30 s again."""
    looks, tracker = parked_car_looks(camera_config(), 6)
    settled = [t for t in looks if t > 15]
    assert 2 <= len(settled) <= 3, looks
    assert all(b - a <= 121 for a, b in itertools.pairwise(looks)), looks
    assert [t.label for t in tracker.tracks.values()] == ["car"]  # still known
    masked = camera_config(motion={"mask": [[[560, 0], [740, 0], [740, 140], [560, 140]]]})
    looks, _ = parked_car_looks(masked, 6)
    assert len([t for t in looks if t > 15]) >= 10, looks
    looks, _ = parked_car_looks(camera_config(), 6, relearn_at=200.0)
    assert any(200 < t <= 231 for t in looks), looks


def test_zones_by_bottom_centre_and_loitering() -> None:
    cam = camera_config(zones={"porch": {"coordinates": [[0, 300], [W, 300], [W, H], [0, H]],
                                         "loitering_time": 5}})
    tracker = Tracker(cam)  # type: ignore[arg-type]
    # Head in the zone, feet above it: not in the zone.
    tracker.update([det("person", (100, 250, 140, 290))], 1000, [(0, 0, W, H)])
    (t,) = tracker.tracks.values()
    assert t.zones == []
    # Walks down into the zone and lingers there, drifting.
    for k in range(1, 45):
        y = min(250 + k * 10, 400)
        tracker.update([det("person", (100 + k % 4, y, 140 + k % 4, y + 60))], 1000 + k * 0.2,
                       [(0, 0, W, H)])
    assert t.zones == ["porch"] and t.entered_zones == ["porch"]
    assert t.loitering and t.loitering_zones == ["porch"]


def test_object_filters_drop_small_low_and_masked_detections() -> None:
    cam = camera_config(objects={"filters": {"person": {
        "min_score": 0.6, "min_area": 1000, "mask": [[0, 0], [200, 0], [200, 200], [0, 200]]}}})
    tracker = Tracker(cam)  # type: ignore[arg-type]
    tracker.update([det("person", (300, 300, 310, 320), 0.9),     # too small
                    det("person", (300, 300, 360, 400), 0.5),     # score too low
                    det("person", (50, 50, 100, 150), 0.9),       # feet inside the mask
                    det("person", (400, 300, 450, 400), 0.9)],    # kept
                   1000, [(0, 0, W, H)])
    assert [t.box for t in tracker.tracks.values()] == [(400, 300, 450, 400)]
    assert tracker.filtered == 3


# What the real model reported on the walkway footage (tests/support/footage.two_walkers)
# while the other person walked in front of the walker, at the 4 fps the engine samples:
# the walker's box shrinks to head and shoulders for two looks, then is whole again.
MEETING = [
    (46.6, (563, 398, 620, 558), (280, 379, 345, 515)),
    (46.8, (539, 398, 597, 558), (302, 374, 370, 517)),
    (47.0, (515, 398, 572, 558), (332, 372, 397, 516)),
    (47.4, (470, 396, 524, 557), (387, 370, 452, 519)),
    (47.6, (443, 396, 499, 557), (407, 343, 447, 434)),
    (47.8, (421, 400, 478, 558), (438, 345, 469, 388)),
    (48.0, (396, 400, 452, 555), (473, 375, 537, 516)),
    (48.4, (346, 398, 404, 558), (532, 377, 592, 521)),
    (48.6, (323, 398, 380, 558), (561, 378, 620, 516)),
    (48.8, (299, 396, 357, 559), (581, 369, 647, 518)),
    (49.0, (274, 396, 330, 557), (609, 357, 675, 517)),
]


def test_a_walker_half_hidden_by_a_passer_by_stays_one_person() -> None:
    tracker = Tracker(camera_config(detect={"width": W, "height": H, "fps": 4}))  # type: ignore[arg-type]
    ids: dict[str, set[str]] = {"walker": set(), "other": set()}
    for now, other, walker in MEETING:
        upd = tracker.update([det("person", other, 0.99), det("person", walker, 0.9)], now,
                             [(0, 0, W, H)])
        assert not upd.removed
        for who, box in (("other", other), ("walker", walker)):
            ids[who] |= {t.id for t in upd.seen if t.box == box}
        # The shrinking box is not a leap upwards: where the walker is expected next stays
        # on the walkway (the regions looked at next are planned around it).
        track = next(t for t in upd.seen if t.box == walker)
        assert track.predicted_box(now + 0.25)[3] > 330, (now, track.velocity)
    # Re-found when whole again: one person, one track; two people at once are two.
    assert len(ids["walker"]) == 1 and len(ids["other"]) == 1, ids
    assert ids["walker"] != ids["other"]
    assert len(tracker.tracks) == 2 and all(t.confirmed for t in tracker.tracks.values())


def test_one_who_walks_out_is_not_the_next_who_walks_in() -> None:
    tracker = Tracker(camera_config(detect={"width": W, "height": H, "fps": 4}))  # type: ignore[arg-type]
    for k in range(6):  # walks towards the right edge at 140 px/s, last seen near it
        x = 522 + 35 * k
        tracker.update([det("person", (x, 377, x + 58, 520))], 24.75 + k / 4, [(0, 0, W, H)])
    (gone,) = tracker.tracks.values()
    assert gone.confirmed
    # A second later someone else walks in at that edge, the other way: a newcomer.
    upd = tracker.update([det("person", (716, 398, 768, 558))], 27.0, [(0, 0, W, H)])
    assert len(upd.new) == 1 and gone not in upd.seen


def test_a_parked_car_does_not_become_the_car_parked_beside_it() -> None:
    """What the model reported on the porch photo (the plaza's two parked cars) in the
    engine's first second online: the scan saw the big car, the next looks saw it again,
    then only the one cut by the frame's edge beside it. That is a second car, not the
    first one driving off (which let a parked car open a people's event)."""
    tracker = Tracker(camera_config(detect={"width": W, "height": H, "fps": 5}))  # type: ignore[arg-type]
    big, edge = (646, 40, 725, 99), (733, 53, 768, 94)
    for k, box in enumerate([big, (653, 44, 723, 99), (653, 45, 723, 99)]):
        tracker.update([det("car", box, 0.79)], 1000 + k / 5, [(0, 0, W, H)])
    (parked,) = tracker.tracks.values()
    assert parked.confirmed and not parked.relevant
    upd = tracker.update([det("car", edge, 0.79)], 1000.6, [(468, 0, 768, 300)])
    assert parked not in upd.seen and [t.box for t in upd.new] == [edge]
    assert not parked.moved and not any(t.relevant for t in tracker.tracks.values())


def test_a_square_that_cuts_a_parked_car_in_half_does_not_make_it_move() -> None:
    """Logged from vtest at 20.4 s: a big square around a crowd's motion ended at x=685,
    inside the plaza's parked car, and the model reported the car's left half. That half
    is not the car driving off (which let it join the people's event, as a car that
    'moved'); what lay past the square's edge was not seen and stays as it was."""
    tracker = Tracker(camera_config(detect={"width": W, "height": H, "fps": 5}))  # type: ignore[arg-type]
    whole = (645, 40, 725, 99)
    for k in range(3):
        tracker.update([det("car", whole, 0.79)], 1000 + k / 5, [(0, 0, W, H)])
    (car,) = tracker.tracks.values()
    assert car.confirmed and not car.relevant
    square = (109, 0, 685, 576)
    half = Detection("car", 0.74, (651, 43, 685, 102), square)
    upd = tracker.update([half], 1000.6, [square])
    assert car in upd.seen and not upd.new
    assert not car.moved and not car.relevant
    assert car.box[2] >= 720  # its right half is still where it was seen whole


def test_two_looks_that_came_together_give_a_parked_car_no_speed() -> None:
    """Two frames that arrived 3.5 ms apart (a stream's first seconds handed over at once):
    the box's few pixels of jitter between them are no speed of 1000 px/s, and where the
    car is expected next stays where it is."""
    tracker = Tracker(camera_config(detect={"width": W, "height": H, "fps": 5}))  # type: ignore[arg-type]
    tracker.update([det("car", (646, 40, 725, 98), 0.79)], 1000.0, [(0, 0, W, H)])
    tracker.update([det("car", (653, 44, 722, 98), 0.84)], 1000.0035, [(0, 0, W, H)])
    (car,) = tracker.tracks.values()
    assert car.velocity == (0.0, 0.0)
    assert iou(car.predicted_box(1000.2), (653, 44, 722, 98)) > 0.9


def test_a_passer_by_beside_someone_standing_still_is_a_second_person() -> None:
    tracker = Tracker(camera_config(detect={"width": W, "height": H, "fps": 4}))  # type: ignore[arg-type]
    for k in range(50):  # 12.5 s standing still
        tracker.update([det("person", (300, 300, 360, 460))], 1000 + k / 4, [(0, 0, W, H)])
    (still,) = tracker.tracks.values()
    assert still.stationary
    # Looked at only every few seconds now; in between someone walks by close to them.
    upd = tracker.update([det("person", (420, 300, 480, 460))], 1014.5, [(330, 230, 630, 530)])
    assert len(upd.new) == 1 and still not in upd.seen


# Also from the walkway footage, every frame (5 fps, what the engine samples when frames
# come late): the other walks in front of the walker, and the model reports the walker
# in two pieces, head and shoulders above the other and the body beside them (64.8), then
# the walker whole and, once more, a sliver of them (65.2). (time, the other, the walker's
# sightings)
IN_PIECES: list[tuple[float, Box, list[Box]]] = [
    (63.0, (0, 0, 0, 0), [(370, 370, 435, 519)]),
    (63.2, (0, 0, 0, 0), [(396, 346, 468, 519)]),
    (63.4, (0, 0, 0, 0), [(430, 372, 494, 519)]),
    (63.6, (720, 396, 768, 551), [(461, 373, 521, 519)]),
    (63.8, (701, 399, 757, 556), [(485, 376, 550, 520)]),
    (64.0, (674, 399, 731, 557), [(507, 363, 578, 517)]),
    (64.2, (650, 394, 715, 557), [(536, 350, 604, 520)]),
    (64.4, (629, 401, 683, 558), [(564, 341, 616, 519)]),
    (64.6, (605, 398, 661, 558), [(584, 343, 627, 395)]),
    (64.8, (580, 398, 637, 556), [(634, 375, 686, 517), (619, 341, 650, 386)]),
    (65.0, (555, 396, 612, 556), [(653, 376, 718, 520)]),
    (65.2, (530, 398, 586, 558), [(681, 369, 746, 522), (669, 338, 708, 479)]),
    (65.4, (508, 398, 564, 558), [(702, 355, 760, 515)]),
    (65.6, (485, 398, 541, 558), [(727, 336, 767, 518)]),
]


def test_a_walker_seen_in_two_pieces_behind_a_passer_by_is_one_person() -> None:
    tracker = Tracker(camera_config(detect={"width": W, "height": H, "fps": 5}))  # type: ignore[arg-type]
    confirmed: set[str] = set()
    walker_ids: set[str] = set()
    for now, other, walker in IN_PIECES:
        dets = [det("person", b, 0.9 if i == 0 else 0.5) for i, b in enumerate(walker)]
        if other[2]:
            dets.append(det("person", other, 0.99))
        upd = tracker.update(dets, now, [(0, 0, W, H)])
        confirmed |= {t.id for t in upd.seen if t.confirmed}
        walker_ids |= {t.id for t in upd.seen if t.confirmed
                       and any(intersection(t.box, b) >= 0.8 * box_area(b) for b in walker)}
    # Two people: never a third person for the walker's second piece (the sliver at 65.2,
    # seen once, is a candidate like any one-look ghost, never confirmed).
    assert len(walker_ids) == 1, walker_ids
    assert len(confirmed) == 2, tracker.tracks
    (walker,) = (tracker.tracks[i] for i in walker_ids)
    assert walker.box == IN_PIECES[-1][2][0]
    assert walker.first_seen == IN_PIECES[0][0]


def test_pieces_of_a_person_are_never_a_second_persons_sighting() -> None:
    cam = camera_config(detect={"width": W, "height": H, "fps": 5})
    # Someone seen whole, leaving at the left edge, with the head of a second person
    # (who walks in behind them) above them: that head is someone else.
    tracker = Tracker(cam)  # type: ignore[arg-type]
    for now, box in ((59.8, (78, 398, 138, 558)), (60.0, (54, 398, 113, 558)),
                     (60.2, (29, 396, 88, 558))):
        tracker.update([det("person", box, 0.99)], now, [(0, 0, W, H)])
    upd = tracker.update([det("person", (7, 398, 63, 558), 0.97),
                          det("person", (0, 342, 42, 397), 0.5)], 60.4, [(0, 0, W, H)])
    assert [t.box for t in upd.new] == [(0, 342, 42, 397)]
    # A person half hidden (only head and shoulders seen) and someone who steps right
    # beside them: together twice as wide as one person, so two people.
    tracker = Tracker(cam)  # type: ignore[arg-type]
    for now, box in ((64.0, (507, 363, 578, 517)), (64.2, (536, 350, 604, 520)),
                     (64.4, (564, 341, 616, 519)), (64.6, (584, 343, 627, 395))):
        tracker.update([det("person", box, 0.9)], now, [(0, 0, W, H)])
    upd = tracker.update([det("person", (604, 343, 646, 395), 0.6),
                          det("person", (648, 340, 712, 520), 0.9)], 64.8, [(0, 0, W, H)])
    assert [t.box for t in upd.new] == [(648, 340, 712, 520)]
    assert len(tracker.tracks) == 2
    # From the plaza footage (vtest): two people walking together, first seen as one box,
    # then side by side; and one person in front of another further back (the model's
    # boxes of them touch). Each is about a person tall, neither is a head: two people.
    for together, front, second in (
            ((173, 345, 273, 511), (173, 366, 237, 510), (240, 366, 298, 510)),
            ((150, 360, 235, 571), (160, 416, 218, 571), (194, 345, 236, 473))):
        tracker = Tracker(cam)  # type: ignore[arg-type]
        for k in range(4):
            tracker.update([det("person", together, 0.9)], 50 + k / 5, [(0, 0, W, H)])
        upd = tracker.update([det("person", front, 0.9), det("person", second, 0.8)], 50.8,
                             [(0, 0, W, H)])
        assert [t.box for t in upd.new] == [second], (together, front, second)


def test_a_piece_of_a_person_cut_by_a_region_edge_is_not_a_second_person() -> None:
    # Also from the walkway footage: a region planned around a tracked head ends at
    # y=440, and the model reports the head and shoulders above that edge as a person,
    # beside the whole person another region saw.
    whole = Detection("person", 0.95, (532, 377, 592, 521), (400, 270, 700, 570))
    piece = Detection("person", 0.79, (518, 341, 559, 432), (369, 140, 669, 440))
    other = Detection("person", 0.99, (346, 398, 404, 558), (210, 276, 510, 576))
    assert merge_detections([whole, piece, other], size=(W, H)) == [other, whole]
    # Where no region saw them whole, the piece is all there is of them: kept.
    assert merge_detections([piece, other], size=(W, H)) == [other, piece]
    # Someone half behind the whole person, cut by a region's right edge, is a second
    # person: the whole one does not go on past that edge.
    beside = Detection("person", 0.8, (560, 360, 620, 500), (322, 220, 622, 520))
    assert merge_detections([whole, beside], size=(W, H)) == [whole, beside]
    # A tall person cut in two by two regions, whole in neither: both parts kept.
    top = Detection("person", 0.9, (100, 50, 160, 300), (0, 0, 300, 300))
    bottom = Detection("person", 0.8, (100, 280, 160, 560), (0, 276, 300, 576))
    assert merge_detections([top, bottom], size=(W, H)) == [top, bottom]


@pytest.mark.parametrize("fps", [4, 5])
async def test_two_people_crossing_again_and_again_are_two_on_real_detections(
        footage_mp4: Path, model: Model, fps: int) -> None:
    """The walkway's two people, frame by frame through motion, regions, the real model and
    the tracker at the engine's 4 fps (and at 5, every frame of the clip, which is what the
    engine samples when frames arrive late): each time the walker is half hidden behind the
    other and whole again it stays one track, and there are never more than two people at
    once."""
    _, scene, walker, other = plaza_and_walkers(model, footage_mp4)
    sprites = two_walkers(walker, other, 0.0)
    tracker = Tracker(camera_config(detect={"width": W, "height": H, "fps": fps}))  # type: ignore[arg-type]
    motion = MotionDetector(W, H, MotionConfig())
    pool = DetectorPool(None, None, 2)
    planner = LookPlanner(W, H, pool.input_size, fps)
    spans: dict[str, list[float]] = {}  # confirmed track -> [first_seen, last_seen]
    walker_tracks: dict[int, set[str]] = {}  # the walker's crossing -> tracks following them
    try:
        for k in range(30 * fps):  # 30 s: the walker crosses four times and meets the other 3
            now = k / fps
            rgb = compose(scene, sprites, now)
            regions = planner.plan(motion.process(rgb).boxes, *tracker.due_looks(now), now)
            dets = await pool.detect(rgb, regions, 0.5, frozenset({"person"})) if regions else []
            truth: list[Box] = []
            for sprite, place in sprites:
                x, y = place(now)
                truth.append((x, y, x + sprite.shape[1], y + sprite.shape[0]))
            for t in tracker.update(dets, now, regions).seen:
                if not t.confirmed:
                    continue
                spans[t.id] = [t.first_seen, t.last_seen]
                inside = [intersection(t.box, b) / max(t.area, 1) for b in truth]
                # Whole or half hidden, a box within the walker (who is wholly in view).
                if (inside[0] >= 0.8 and inside[0] > inside[1]
                        and truth[0][0] >= 0 and truth[0][2] <= W):
                    walker_tracks.setdefault(int(now * 140 // 1100), set()).add(t.id)
    finally:
        pool.close()
    marks = sorted(m for first, last in spans.values() for m in ((first, 1), (last, -1)))
    assert max(itertools.accumulate(step for _, step in marks)) == 2, spans
    assert sorted(walker_tracks) == [0, 1, 2, 3]
    assert all(len(ids) == 1 for ids in walker_tracks.values()), (walker_tracks, spans)


# ---------------------------------------------------------------------- events


async def run_on_footage(manager: EventManager, footage_mp4: Path, model_path: Path,
                         limit: int, after_sample: Callable[[], None]) -> float:
    """The engine's real motion, look planner, detector and tracker on the footage at 5
    detect fps, feeding ``manager``; ``after_sample`` runs after each sample. Returns the
    last sample's time."""
    cam = manager.camera
    tracker = Tracker(cam)
    motion = MotionDetector(W, H, MotionConfig())
    pool = DetectorPool(model_path, None, 2)
    planner = LookPlanner(W, H, pool.input_size, 5.0)
    labels = frozenset({"person", "car"})
    t = 1_790_000_000.0
    try:
        for i, rgb in frames(footage_mp4, step=2, limit=limit):
            t += 0.2
            m = motion.process(rgb)
            regions = planner.plan(m.boxes, *tracker.due_looks(t), t)
            dets = await pool.detect(rgb, regions, 0.5, labels) if regions else []
            await manager.process(Frame("cam", t, rgb, i), tracker.update(dets, t, regions))
            after_sample()
    finally:
        pool.close()
    return t


async def test_events_are_in_sqlite_before_they_are_announced(tmp_path: Path,
                                                              footage_mp4: Path,
                                                              model_path: Path) -> None:
    cam = camera_config(events={"idle_timeout": 2, "max_length": 60})
    store = Store(tmp_path / "vigil.db")
    bus = EventBus()
    inbox = bus.subscribe()
    manager = EventManager(cam, store, bus, SnapshotWriter(tmp_path / "snapshots"))  # type: ignore[arg-type]
    checked_on_new = []

    def check_announced() -> None:
        while not inbox.empty():
            msg = inbox.get_nowait()
            if msg.kind == "new":
                # Read the file with a separate connection, as another process would.
                with sqlite3.connect(tmp_path / "vigil.db") as db:
                    row = db.execute("SELECT id FROM events WHERE id = ?",
                                     (msg.event["id"],)).fetchone()
                assert row is not None
                assert msg.event["has_snapshot"]
                assert (tmp_path / "snapshots" / "cam" / f"{msg.event['id']}.jpg").is_file()
                checked_on_new.append(msg.event["id"])

    try:
        t = await run_on_footage(manager, footage_mp4, model_path, 260, check_announced)
        await manager.close(t)
        assert checked_on_new
        rows, _ = await store.list_events(EventQuery())
        assert rows and all(r["end_time"] is not None for r in rows)
        assert all("person" in r["labels"] for r in rows)
    finally:
        await asyncio.to_thread(store.close)


async def walk_past_max_length(manager: EventManager, rgb: np.ndarray, phase: int,
                               before_sample: Callable[[int], None] = lambda _i: None
                               ) -> list[dict[str, Any]]:
    """12 s of someone walking, looked at on every third sample (max_length 8 s): the
    events announced."""
    inbox = manager.bus.subscribe()
    tracker = Tracker(manager.camera)
    t, x = 1_790_000_000.0, 100
    for i in range(60):
        before_sample(i)
        t, x = t + 0.2, x + 4
        looked = i % 3 == phase
        dets = [det("person", (x, 200, x + 40, 300), 0.9)] if looked else []
        upd = tracker.update(dets, t, [(0, 0, W, H)] if looked else [])
        await manager.process(Frame("cam", t, rgb if looked else None, i), upd)
    opened = []
    while not inbox.empty():
        msg = inbox.get_nowait()
        if msg.kind == "new":
            opened.append(msg.event)
    return opened


@pytest.mark.parametrize("phase", [0, 1, 2])
async def test_a_follow_on_event_is_announced_with_a_snapshot(tmp_path: Path, footage_mp4: Path,
                                                              phase: int) -> None:
    """Someone still there when an event reaches max_length goes on in a follow-on event,
    whose alert carries its snapshot link at once. The model does not look at everyone on
    every sample (a crowd's planner looks at one square per sample): whichever sample
    closes the first event, the follow-on is announced with a snapshot on disk. (It was
    announced without one when that sample had not looked at them: the alert's image was
    a 404; Home Assistant's blueprint test caught it.) The carried view is read back from
    the first event's files (no JPEG is kept in memory): the same picture."""
    cam = camera_config(events={"idle_timeout": 2, "max_length": 8})
    store = Store(tmp_path / "vigil.db")
    snapshots = SnapshotWriter(tmp_path / "snapshots")
    manager = EventManager(cam, store, EventBus(), snapshots)  # type: ignore[arg-type]
    rgb = next(rgb for _, rgb in frames(footage_mp4))
    try:
        opened = await walk_past_max_length(manager, rgb, phase)
        assert len(opened) == 2  # the event, and its follow-on after 8 s
        for ev in opened:
            assert ev["has_snapshot"], ev
            assert snapshots.event_path("cam", ev["id"]).is_file()
        first, second = opened
        (walker,) = [o["id"] for o in first["objects"]]
        assert [o["id"] for o in second["objects"]] == [walker]
        carried = snapshots.object_path("cam", first["id"], walker).read_bytes()
        assert snapshots.event_path("cam", second["id"]).read_bytes() == carried
        assert Image.open(snapshots.object_path("cam", second["id"], walker)).size == (W, H)
        assert all(b.files is not None and b.rgb is None for b in manager.best.values())
    finally:
        await asyncio.to_thread(store.close)


async def test_a_carried_view_whose_files_were_deleted_is_replaced_by_the_next_look(
        tmp_path: Path, footage_mp4: Path) -> None:
    """The first event's files deleted by hand before the follow-on opens: the follow-on
    still opens (nothing crashes, no snapshot is claimed that is not there), and the
    person's next look gives it its snapshot."""
    cam = camera_config(events={"idle_timeout": 2, "max_length": 8})
    store = Store(tmp_path / "vigil.db")
    snapshots = SnapshotWriter(tmp_path / "snapshots")
    manager = EventManager(cam, store, EventBus(), snapshots)  # type: ignore[arg-type]
    rgb = next(rgb for _, rgb in frames(footage_mp4))

    def delete_first_events_objects(i: int) -> None:
        if i == 36 and manager.current is not None:
            shutil.rmtree(tmp_path / "snapshots" / "cam" / manager.current.id)

    try:
        opened = await walk_past_max_length(manager, rgb, 1, delete_first_events_objects)
        assert len(opened) == 2
        second = opened[1]
        assert not second["has_snapshot"]  # announced without one: its view was gone
        row = await store.get_event(second["id"])  # the next look's, within a flush
        assert row is not None and row["has_snapshot"]
        assert snapshots.event_path("cam", second["id"]).is_file()
        (walker,) = [o["id"] for o in second["objects"]]
        assert snapshots.object_path("cam", second["id"], walker, bbox=True).is_file()
    finally:
        await asyncio.to_thread(store.close)


async def test_a_wobbling_score_does_not_rewrite_snapshots_a_better_view_does(
        tmp_path: Path) -> None:
    """In a crowd every person's score wobbles a little from look to look. Each rewrite is
    two full-frame JPEGs, fsynced: only a clearly better view (10 %) replaces the object's
    snapshot while it is in view; when it leaves, a clearly better view not yet written
    is. Meanwhile only such a view holds its frame in memory."""
    cam = camera_config(events={"idle_timeout": 30, "max_length": 300})
    store = Store(tmp_path / "vigil.db")
    snapshots = SnapshotWriter(tmp_path / "snapshots")
    manager = EventManager(cam, store, EventBus(), snapshots)  # type: ignore[arg-type]
    tracker = Tracker(cam)  # type: ignore[arg-type]
    rgb = np.zeros((H, W, 3), np.uint8)
    written: list[int] = []  # inode of the object's snapshot after each look
    try:
        t, x = 1_790_000_000.0, 100
        # 8 s of a slowly rising wobble (+7 % in all), then a clearly better view.
        scores = [0.80 + 0.0015 * i for i in range(40)] + [0.97] * 16 + [0.99]
        for i, score in enumerate(scores):
            t, x = t + 0.2, x + 4
            upd = tracker.update([det("person", (x, 200, x + 60, 360), score)], t,
                                 [(0, 0, W, H)])
            await manager.process(Frame("cam", t, rgb, i), upd)
            ev = manager.current
            if ev is not None:
                (oid,) = ev.members
                path = snapshots.object_path("cam", ev.id, oid)
                written.append(path.stat().st_ino if path.is_file() else 0)
        rewrites = [a != b for a, b in itertools.pairwise(written)]
        # Opened once it walked off its first place; then no rewrite for the wobble, one for
        # the view 14 % better (at the next 3 s interval).
        assert sum(rewrites) == 1, written
        assert written[0] != 0  # written when the event opened
        before = path.stat().st_ino
        # It comes closer (a clearly better view, 15 %) and is gone before the next
        # interval: leaving is its last chance. A view only 2 % better is not kept.
        t, x = t + 0.2, x + 4
        upd = tracker.update([det("person", (x, 170, x + 80, 360), 0.99)], t, [(0, 0, W, H)])
        await manager.process(Frame("cam", t, rgb, 60), upd)
        assert manager.frames_held == 1
        assert path.stat().st_ino == before
        for k in range(1, 20):
            upd = tracker.update([], t + k * 0.2, [(0, 0, W, H)])
            await manager.process(Frame("cam", t + k * 0.2, rgb, 100 + k), upd)
        assert path.stat().st_ino != before
    finally:
        await asyncio.to_thread(store.close)


async def test_people_seen_together_share_one_held_frame_when_it_is_as_good(
        tmp_path: Path) -> None:
    """Two people walk along; each one's best view not yet written pins its frame. When
    a newer frame becomes one's best, the other, nearly as good in it (within the 10 % a
    written snapshot ignores), moves there too: one frame is held, not two. Someone
    clearly worse in the newer frame keeps their own."""
    cam = camera_config(events={"idle_timeout": 30, "max_length": 300})
    store = Store(tmp_path / "vigil.db")
    manager = EventManager(cam, store, EventBus(),  # type: ignore[arg-type]
                           SnapshotWriter(tmp_path / "snapshots"))
    tracker = Tracker(cam)  # type: ignore[arg-type]
    try:
        t = 1_790_000_000.0

        async def look(i: int, a: float, b: float) -> np.ndarray:
            rgb = np.full((H, W, 3), i, np.uint8)  # each sample its own frame
            x = 100 + 6 * i
            upd = tracker.update([det("person", (x, 200, x + 60, 360), a),
                                  det("person", (x + 300, 200, x + 360, 360), b)],
                                 t + 0.2 * i, [(0, 0, W, H)])
            await manager.process(Frame("cam", t + 0.2 * i, rgb, i), upd)
            return rgb

        i = 0
        while manager.current is None or manager.frames_held:  # opened, views written
            i += 1
            await look(i, 0.80, 0.80)
        # Both clearly better than written: each pins this frame...
        await look(i + 1, 0.95, 0.95)
        assert manager.frames_held == 1
        # ...then the first is better still, the second 5 % worse: both move on.
        second = await look(i + 2, 0.97, 0.90)
        assert manager.frames_held == 1
        assert all(v.rgb is second for v in manager.best.values())
        # The first better again, the second much worse (hidden half): the second keeps
        # its view in the older frame.
        await look(i + 3, 0.99, 0.60)
        assert manager.frames_held == 2
        assert sum(v.rgb is second for v in manager.best.values()) == 1
    finally:
        await asyncio.to_thread(store.close)


async def test_a_crowd_pins_few_frames_and_everyone_still_gets_a_snapshot(
        tmp_path: Path, footage_mp4: Path, model_path: Path) -> None:
    """A busy camera's event gathers a snapshot per person. Each best view used to pin its
    whole decoded frame (1.3 MB at 768x576) until that person left: on the busy campus,
    6.2 frames per camera on average and up to 10. A view on disk is now held as the paths of
    its two JPEGs, and only a clearly better view pins a frame again, until the next snapshot
    interval writes it. Every person of the event still has a snapshot on disk, and the
    event its own."""
    cam = camera_config(events={"idle_timeout": 3, "max_length": 300})
    store = Store(tmp_path / "vigil.db")
    snapshots = SnapshotWriter(tmp_path / "snapshots")
    manager = EventManager(cam, store, EventBus(), snapshots)  # type: ignore[arg-type]
    held: list[int] = []
    events: dict[str, set[str]] = {}

    def note() -> None:
        held.append(manager.frames_held)
        if (ev := manager.current) is not None:
            events.setdefault(ev.id, set()).update(ev.members)

    try:
        t = await run_on_footage(manager, footage_mp4, model_path, 400, note)  # 80 s
        await manager.close(t)
        people = sum(len(m) for m in events.values())
        assert people >= 10  # the footage is a crowd (vtest: 20 and more passers-by)
        for event_id, members in events.items():
            assert snapshots.event_path("cam", event_id).is_file()
            for oid in members:
                assert snapshots.object_path("cam", event_id, oid).is_file(), oid
                assert snapshots.object_path("cam", event_id, oid, bbox=True).is_file(), oid
        print(f"frames held: max {max(held)}, mean {sum(held) / len(held):.2f}, "
              f"{people} people in {len(events)} events")
        assert max(held) <= 5, held
        assert sum(held) / len(held) <= 2.0, held
    finally:
        await asyncio.to_thread(store.close)


# From vtest at 5 fps (the engine's looks, 2026-12-01): a small person walks right along
# the back of the plaza (another walks below them). At 74.6 s the whole-frame look drew
# two boxes on them (IoU 0.34: both survive merging). (time, looked at, the model's boxes)
TWO_BOXES_ON_ONE: list[tuple[float, Box, list[tuple[Box, float]]]] = [
    (71.6, (0, 0, W, H), [((535, 132, 562, 193), 0.88)]),
    (72.0, (468, 0, 768, 300), [((556, 126, 581, 179), 0.58)]),
    (72.4, (390, 70, 690, 370), [((571, 120, 601, 185), 0.5)]),
    (72.6, (0, 0, W, H), [((576, 122, 602, 171), 0.58)]),
    (73.2, (380, 90, 680, 390), [((595, 121, 617, 175), 0.58)]),
    (73.6, (0, 0, W, H), [((569, 184, 597, 263), 0.79), ((604, 112, 629, 176), 0.58)]),
    (74.0, (380, 110, 680, 410), [((554, 181, 583, 262), 0.58)]),
    (74.2, (468, 0, 768, 300), [((547, 179, 577, 252), 0.88)]),
    (74.6, (0, 0, W, H), [((647, 118, 669, 174), 0.58), ((641, 126, 659, 168), 0.5)]),
    (74.8, (468, 0, 768, 300), [((656, 116, 674, 168), 0.73)]),
]


def test_two_boxes_on_one_person_do_not_make_a_second_person() -> None:
    """The second box became a candidate, took the person's next sighting (74.8 s) from
    their track, and the person went unseen for 1.6 s: vtest's recall on the AMD machine
    counted them missed, and an event could list one person twice."""
    tracker = Tracker(camera_config(detect={"width": W, "height": H, "fps": 5}))  # type: ignore[arg-type]
    walker = None
    for now, region, boxes in TWO_BOXES_ON_ONE:
        upd = tracker.update([det("person", b, s) for b, s in boxes], now, [region])
        if walker is None:
            (walker,) = upd.seen
        if now >= 74.6:
            assert not upd.new, f"{now}: a second person from a second box"
    assert walker is not None
    assert walker.last_seen == 74.8 and walker.box == (656, 116, 674, 168)
    assert len([t for t in tracker.tracks.values() if t.box[1] < 150]) == 1


def test_a_newcomer_drawn_twice_is_one_person() -> None:
    """The model's two boxes on one small person (as at 74.6 s above: IoU 0.34, most of
    the smaller inside the other) on the first looks at someone new made two candidates,
    each took one of the next look's two boxes, and both were confirmed: the camera
    counted two people and the event listed the person twice."""
    tracker = Tracker(camera_config(detect={"width": W, "height": H, "fps": 5}))  # type: ignore[arg-type]
    confirmed: set[str] = set()
    for k in range(8):
        now, dx = 100.0 + 0.2 * k, 3 * k
        boxes = [((647 + dx, 118, 669 + dx, 174), 0.85), ((641 + dx, 126, 659 + dx, 168), 0.76)]
        upd = tracker.update([det("person", b, s) for b, s in boxes], now, [(0, 0, W, H)])
        confirmed |= {t.id for t in upd.seen if t.confirmed}
    assert len(confirmed) == 1, f"{len(confirmed)} people confirmed for one"
    (person,) = (tracker.tracks[i] for i in confirmed)
    assert person.box[0] >= 647 + 3 * 7 - 6  # the bigger box: the whole person, followed
