"""Motion, region detection and tracking on the real footage with the real model."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from vigil_engine.capture.source import Frame
from vigil_engine.config import MotionConfig, parse_config
from vigil_engine.detect.model import Model
from vigil_engine.detect.pool import DetectorPool
from vigil_engine.detect.regions import merge_detections, plan_regions
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
    many = plan_regions([(x, 0, x + 10, 10) for x in range(0, 760, 60)]
                        + [(x, 560, x + 10, 570) for x in range(0, 760, 60)], W, H)
    assert len(many) <= 4


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


# ---------------------------------------------------------------------- events


async def test_events_are_in_sqlite_before_they_are_announced(tmp_path: Path,
                                                              footage_mp4: Path,
                                                              model_path: Path) -> None:
    cam = camera_config(events={"idle_timeout": 2, "max_length": 60})
    store = Store(tmp_path / "vigil.db")
    bus = EventBus()
    inbox = bus.subscribe()
    manager = EventManager(cam, store, bus, SnapshotWriter(tmp_path / "snapshots"))  # type: ignore[arg-type]
    tracker = Tracker(cam)  # type: ignore[arg-type]
    motion = MotionDetector(W, H, MotionConfig())
    pool = DetectorPool(model_path, None, 2)
    checked_on_new = False
    try:
        t = 1_790_000_000.0
        for i, rgb in frames(footage_mp4, step=2, limit=260):
            t += 0.2
            frame = Frame("cam", t, rgb, i)
            m = motion.process(rgb)
            look = tracker.look_at(m.boxes, t)
            regions = plan_regions(look, W, H) if look else []
            labels = frozenset({"person", "car"})
            dets = await pool.detect(rgb, regions, 0.5, labels) if look else []
            await manager.process(frame, tracker.update(dets, t, regions))
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
                    checked_on_new = True
        await manager.close(t)
        assert checked_on_new
        rows, _ = await store.list_events(EventQuery())
        assert rows and all(r["end_time"] is not None for r in rows)
        assert all("person" in r["labels"] for r in rows)
    finally:
        pool.close()
        await asyncio.to_thread(store.close)
