"""A camera where nothing happens wakes the engine once a second, not five times.

Most of what an NVR watches is still. Handing every still sample to the pipeline woke
the event loop five times a second per camera to learn that nothing moved: a quarter
of an idle camera's cost beyond decoding, and with 28 quiet cameras a crowd of wake-ups
ahead of the busy ones. Capture runs motion on every sample in its own thread and hands
over what matters: motion at once, still samples once a second, each carrying how many
still samples came before it (so the camera's processed rate stays true).

Real RTSP server, real decoder, real motion detector.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from dataclasses import astuple
from pathlib import Path

import av
import numpy as np
import pytest

from tests.support.footage import empty_scene, frames, relit_clip, still_clip
from tests.support.rtsp import RtspCamera
from vigil_engine.capture.source import Capture, Frame
from vigil_engine.config import MotionConfig, parse_config
from vigil_engine.detect.pool import DetectorPool
from vigil_engine.events.bus import EventBus
from vigil_engine.events.snapshots import SnapshotWriter
from vigil_engine.motion.detector import SETTLE_FRAMES, MotionDetector
from vigil_engine.pipeline import CameraPipeline, PipelineStats
from vigil_engine.store.db import Store
from vigil_engine.track.tracker import TrackedObject

W, H, FPS = 768, 576, 5.0


@pytest.fixture(scope="module")
def still_camera(tmp_path_factory: pytest.TempPathFactory, footage_mp4: Path
                 ) -> Iterator[RtspCamera]:
    """The campus with nobody in it (the median of the footage), 10 fps, from RTSP."""
    background = empty_scene(frames(footage_mp4, every=16, count=50))
    clip = still_clip(background, tmp_path_factory.mktemp("still") / "still.ts", seconds=20)
    cam = RtspCamera(clip).start()
    yield cam
    cam.stop()


Shown = tuple[float, float, np.ndarray] | None  # (asked at, picture's time, RGB)


def watch(url: str, seconds: float, tmp_path: Path) -> tuple[list[Frame], Shown]:
    """What the pipeline is handed in ``seconds`` of the stream, after a second to settle
    (the motion detector's first sample learns the background), and the picture capture
    gives when someone asks to see the camera at the end."""
    config = parse_config({"cameras": {"cam": {
        "inputs": [{"url": url, "roles": ["detect"]}],
        "detect": {"fps": FPS, "width": W, "height": H}}}}, data_dir=tmp_path)
    cam = config.cameras["cam"]

    async def run() -> tuple[list[Frame], Shown]:
        got: list[Frame] = []
        capture = Capture("cam", dataclasses.replace(cam.inputs[0], url=url), cam.detect,
                          asyncio.get_running_loop(), got.append,
                          motion=MotionDetector(W, H, MotionConfig()))
        capture.wants_rgb = False  # as the pipeline says while nobody is followed
        capture.start()
        try:
            for _ in range(200):
                if got:
                    break
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
            start = len(got)
            await asyncio.sleep(seconds)
            asked = time.time()
            shown = await asyncio.to_thread(capture.newest_rgb, W, H)
            return got[start:], None if shown is None else (asked, *shown)
        finally:
            await asyncio.to_thread(capture.stop)

    return asyncio.run(run())


def test_a_still_scene_is_handed_over_once_a_second_with_every_sample_counted(
        still_camera: RtspCamera, tmp_path: Path) -> None:
    frames, shown = watch(still_camera.url, 6.0, tmp_path)
    assert all(f.motion is not None and not f.motion.boxes for f in frames)
    assert 4 <= len(frames) <= 8, [round(f.time, 2) for f in frames]  # was 30
    # Each still sample is still counted: 5 a second.
    samples = sum(1 + f.quiet for f in frames)
    assert samples / 6.0 == pytest.approx(FPS, rel=0.25), samples
    # Without RGB and without the decoder's picture (kept, it would grow FFmpeg's
    # picture pool by one for good: 0.66 MB a camera)...
    assert all(f.rgb is None for f in frames)
    assert not any(isinstance(v, av.VideoFrame) for f in frames for v in astuple(f))
    # ...yet whoever asks to see the camera gets its newest picture, not a second-old one.
    assert shown is not None
    asked, taken, rgb = shown
    assert rgb.shape == (H, W, 3) and int(rgb.max()) - int(rgb.min()) > 50  # a real scene
    assert abs(taken - asked) < 0.5, taken - asked


def test_motion_is_handed_over_on_every_sample(camera_with_people: RtspCamera,
                                               tmp_path: Path) -> None:
    frames, _ = watch(camera_with_people.url, 4.0, tmp_path)
    moving = [f for f in frames if f.motion is not None and f.motion.boxes]
    assert len(moving) >= 0.8 * FPS * 4.0, len(moving)
    assert all(f.quiet == 0 for f in moving)  # none of it held back
    assert all(f.rgb is not None and f.rgb.shape == (H, W, 3) for f in moving)


def test_every_sample_the_scene_is_relearnt_on_is_handed_over(
        footage_mp4: Path, tmp_path: Path) -> None:
    """The lights come on: motion sees no object (it relearns the scene), yet the samples
    it relearnt on are handed over at once rather than held back as still ones, so the
    tracker hears that motion cannot vouch for anything standing in the scene."""
    background = empty_scene(frames(footage_mp4, every=16, count=50))
    # Lights on at 6 s, off again when the clip loops at 18 s: the window (from a second
    # after the first frame, 8 s long) holds the first and not the second.
    camera = RtspCamera(relit_clip(background, tmp_path / "relit.ts", dark=6, lit=12)).start()
    try:
        got, _ = watch(camera.url, 8.0, tmp_path)
    finally:
        camera.stop()
    relearnt = [f for f in got if f.motion is not None and f.motion.recalibrated]
    assert all(f.motion is not None and not f.motion.boxes for f in got)
    # One relight, relearnt over SETTLE_FRAMES more samples: all of them handed over.
    assert len(relearnt) == SETTLE_FRAMES + 1, [(round(f.time, 2), f.quiet) for f in got]
    assert all(f.quiet == 0 for f in relearnt[1:])  # none held back in between
    assert len(got) <= 8 + len(relearnt) + 2  # still samples: still about one a second


@pytest.fixture(scope="module")
def camera_with_people(footage_ts: Path) -> Iterator[RtspCamera]:
    cam = RtspCamera(footage_ts).start()
    yield cam
    cam.stop()


def test_a_still_camera_waiting_for_a_busy_detector_drops_no_sample(
        still_camera: RtspCamera, footage_mp4: Path, tmp_path: Path) -> None:
    """The detector is shared: with busy cameras feeding it, a quiet camera waits for its
    looks at the parked cars (every sample in its first seconds, while it learns they stand
    still). A still sample taken during that wait is held back like any other still sample,
    not converted to RGB and then thrown away when the next one came (which the camera
    counted as a dropped sample: 205 a minute over 28 quiet cameras in the 32-camera
    bench). The camera still gets its looks, and every sample is still counted."""
    config = parse_config({"cameras": {"cam": {
        "inputs": [{"url": still_camera.url, "roles": ["detect"]}],
        "detect": {"fps": FPS, "width": W, "height": H}}}}, data_dir=tmp_path)
    cam = config.cameras["cam"]
    crowd = frames(footage_mp4, every=40, count=4)
    squares = [(x, y, x + 300, y + 300) for x in (0, 234, 468) for y in (0, 276)]

    async def run() -> tuple[PipelineStats, int, float]:
        pool = DetectorPool(None, None, 2)
        store = Store(tmp_path / "vigil.db")
        pipeline = CameraPipeline(cam, pool, store, EventBus(), SnapshotWriter(tmp_path / "snaps"))
        stop = asyncio.Event()

        async def busy_camera(k: int) -> None:  # six squares a sample, back to back
            while not stop.is_set():
                await pool.detect(crowd[k % len(crowd)], squares, 0.5, frozenset({"person"}))
                k += 1

        busy = [asyncio.create_task(busy_camera(k)) for k in range(2)]
        try:
            await pipeline.start()
            assert pipeline.capture is not None
            for _ in range(300):
                if pipeline.stats.frames:
                    break
                await asyncio.sleep(0.05)
            started = asyncio.get_running_loop().time()
            await asyncio.sleep(10.0)  # the connect scan, then the parked cars followed
            return (dataclasses.replace(pipeline.stats), pipeline.capture.rgb_frames,
                    asyncio.get_running_loop().time() - started)
        finally:
            stop.set()
            await asyncio.gather(*busy)
            await pipeline.stop()
            pool.close()
            store.close()

    stats, rgb_frames, seconds = asyncio.run(run())
    assert stats.detect_runs >= 5, stats  # the parked cars were looked at, again and again
    assert stats.dropped == 0, stats
    assert rgb_frames <= stats.detect_runs + 3, (rgb_frames, stats)  # converted to be looked at
    assert stats.frames / seconds == pytest.approx(FPS, rel=0.25), stats  # all counted


def test_parked_cars_are_looked_at_again_soon_after_the_lights_come_on(
        footage_mp4: Path, tmp_path: Path) -> None:
    """A parked car where nothing changed is looked at every two minutes: it cannot drive
    off without changing its pixels. When the lights come on the motion detector relearns
    the whole scene and can no longer vouch for that, so the car is looked at again within
    30 s of its last look. The relearnt sample is a still one (no motion boxes): capture
    must hand it over rather than hold it back, or the tracker never hears of it.
    Real RTSP stream with a real lighting change, real capture, motion, model, tracker."""
    background = empty_scene(frames(footage_mp4, every=16, count=50))
    relight_at = 30.0  # clip time; the feeder starts playing it when the camera starts
    clip = relit_clip(background, tmp_path / "relit.ts", dark=int(relight_at), lit=20)
    config = parse_config({"cameras": {"cam": {
        "inputs": [{"url": "rtsp://127.0.0.1:1/unused", "roles": ["detect"]}],
        "detect": {"fps": FPS, "width": W, "height": H}}}}, data_dir=tmp_path)

    async def run(camera: RtspCamera, started: float) -> None:
        cam = config.cameras["cam"]
        cam = dataclasses.replace(cam, inputs=[dataclasses.replace(cam.inputs[0],
                                                                   url=camera.url)])
        pool = DetectorPool(None, None, 2)
        store = Store(tmp_path / "vigil.db")
        pipeline = CameraPipeline(cam, pool, store, EventBus(), SnapshotWriter(tmp_path / "s"))
        tracker = pipeline.tracker
        try:
            await pipeline.start()

            def cars() -> list[TrackedObject]:
                return [t for t in tracker.tracks.values() if t.label == "car"]

            # Settled before the lights come on: the cars known, parked, and none due for
            # a look within the next minute (nothing changes where they stand).
            while True:
                now = time.time()
                assert now < started + relight_at - 2, (
                    "the parked cars did not settle before the lights came on: "
                    f"{[(t.box, t.parked, now - t.last_checked) for t in cars()]}")
                if (cars() and all(t.parked for t in cars())
                        and tracker.due_looks(now + 60.0) == ([], [])):
                    break
                await asyncio.sleep(0.2)
            looked = {t.id: t.last_checked for t in cars()}
            runs = pipeline.stats.detect_runs
            assert pipeline.motion.recalibrations == 0
            # The lights come on...
            while pipeline.motion.recalibrations == 0:
                assert time.time() < started + relight_at + 5, "the relight was not seen"
                await asyncio.sleep(0.1)
            assert pipeline.events.opened == 0
            # ...and each car is looked at again within 30 s of its last look (not 120 s).
            deadline = max(looked.values()) + 31.0
            while not all(t.last_checked > looked.get(t.id, 0) for t in cars()):
                assert time.time() < deadline, (
                    f"the cars were not looked at again after the relight: "
                    f"{[(t.box, round(time.time() - t.last_checked)) for t in cars()]}")
                await asyncio.sleep(0.2)
            assert pipeline.stats.detect_runs > runs
            assert set(looked) <= {t.id for t in cars()}  # the same cars, still tracked
            assert pipeline.events.opened == 0
        finally:
            await pipeline.stop()
            pool.close()
            store.close()

    started = time.time()
    camera = RtspCamera(clip).start()
    try:
        asyncio.run(run(camera, started))
    finally:
        camera.stop()
