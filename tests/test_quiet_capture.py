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
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.footage import empty_scene, frames, still_clip
from tests.support.rtsp import RtspCamera
from vigil_engine.capture.source import Capture, Frame
from vigil_engine.config import MotionConfig, parse_config
from vigil_engine.motion.detector import MotionDetector

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


def watch(url: str, seconds: float, tmp_path: Path) -> list[Frame]:
    """What the pipeline is handed in ``seconds`` of the stream, after a second to settle
    (the motion detector's first sample learns the background)."""
    config = parse_config({"cameras": {"cam": {
        "inputs": [{"url": url, "roles": ["detect"]}],
        "detect": {"fps": FPS, "width": W, "height": H}}}}, data_dir=tmp_path)
    cam = config.cameras["cam"]

    async def run() -> list[Frame]:
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
            return got[start:]
        finally:
            await asyncio.to_thread(capture.stop)

    return asyncio.run(run())


def test_a_still_scene_is_handed_over_once_a_second_with_every_sample_counted(
        still_camera: RtspCamera, tmp_path: Path) -> None:
    frames = watch(still_camera.url, 6.0, tmp_path)
    assert all(f.motion is not None and not f.motion.boxes for f in frames)
    assert 4 <= len(frames) <= 8, [round(f.time, 2) for f in frames]  # was 30
    # Each still sample is still counted: 5 a second.
    samples = sum(1 + f.quiet for f in frames)
    assert samples / 6.0 == pytest.approx(FPS, rel=0.25), samples
    # Without RGB, but with the picture to show when someone asks.
    assert all(f.rgb is None and f.picture is not None for f in frames)


def test_motion_is_handed_over_on_every_sample(camera_with_people: RtspCamera,
                                               tmp_path: Path) -> None:
    frames = watch(camera_with_people.url, 4.0, tmp_path)
    moving = [f for f in frames if f.motion is not None and f.motion.boxes]
    assert len(moving) >= 0.8 * FPS * 4.0, len(moving)
    assert all(f.quiet == 0 for f in moving)  # none of it held back
    assert all(f.rgb is not None and f.rgb.shape == (H, W, 3) for f in moving)


@pytest.fixture(scope="module")
def camera_with_people(footage_ts: Path) -> Iterator[RtspCamera]:
    cam = RtspCamera(footage_ts).start()
    yield cam
    cam.stop()
