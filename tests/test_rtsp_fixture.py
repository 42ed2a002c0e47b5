"""Self-check of the RTSP test camera (tests/support/rtsp.py).

Why: every engine test that talks RTSP relies on this camera; if it is broken
those failures would be misleading, so prove here that it serves real frames
to several clients, goes away on stop() and comes back on restart().
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import av
import pytest

from tests.support.rtsp import RtspCamera, make_ts

SRC_SIZE = (768, 576)
# Codec parameters come from the SDP, so skip ffmpeg's multi-second probing.
OPTS = {"rtsp_transport": "tcp", "probesize": "32", "analyzeduration": "0"}

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="session")
def clip_ts(footage_ts: Path) -> Path:
    """The real footage as MPEG-TS (scripts/test builds it with the same settings)."""
    return footage_ts


def read_frames(url: str, seconds: float) -> tuple[tuple[int, int], int]:
    """Open `url`, wait for the first frame, then count frames for `seconds` of wall time."""
    with av.open(url, options=OPTS, timeout=10) as c:
        size: tuple[int, int] | None = None
        n = 0
        end = 0.0
        for frame in c.decode(video=0):
            if size is None:
                size = (frame.width, frame.height)
                end = time.monotonic() + seconds
            n += 1
            if time.monotonic() >= end:
                break
    assert size is not None
    return size, n


def test_make_ts_is_cached(tmp_path: Path, footage_mp4: Path) -> None:
    out = make_ts(footage_mp4, tmp_path / "clip.ts")
    mtime = out.stat().st_mtime_ns
    with av.open(str(out)) as c:
        assert c.streams.video[0].codec_context.name == "h264"
    assert make_ts(footage_mp4, out) == out
    assert out.stat().st_mtime_ns == mtime


def test_camera_serves_stops_and_restarts(clip_ts: Path) -> None:
    cam = RtspCamera(clip_ts)
    try:
        t0 = time.monotonic()
        cam.start()
        print(f"start: {time.monotonic() - t0:.2f}s")
        assert cam.url == f"rtsp://127.0.0.1:{cam.port}/cam"

        size, n = read_frames(cam.url, 3.0)
        assert size == SRC_SIZE
        assert n >= 20, f"only {n} frames in 3 s"

        # Two clients at once on the shared media.
        results: dict[int, tuple[tuple[int, int], int] | BaseException] = {}

        def client(i: int) -> None:
            try:
                results[i] = read_frames(cam.url, 3.0)
            except BaseException as exc:  # reported below
                results[i] = exc

        threads = [threading.Thread(target=client, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for i in range(2):
            r = results.get(i)
            assert isinstance(r, tuple), f"client {i}: {r!r}"
            assert r[0] == SRC_SIZE and r[1] >= 20, f"client {i}: {r}"

        port = cam.port
        t0 = time.monotonic()
        cam.stop()
        print(f"stop: {time.monotonic() - t0:.2f}s")
        assert not cam.running
        with pytest.raises(av.error.FFmpegError):
            av.open(cam.url, options=OPTS, timeout=5)

        t0 = time.monotonic()
        cam.restart()
        print(f"restart: {time.monotonic() - t0:.2f}s")
        assert cam.port == port
        size, n = read_frames(cam.url, 2.0)
        assert size == SRC_SIZE and n >= 10
    finally:
        cam.stop()
    assert not cam.running


def test_context_manager_and_stop_during_playback(clip_ts: Path) -> None:
    """A client mid-stream sees the camera vanish (EOF or error), and the port is reusable."""
    with RtspCamera(clip_ts) as cam:
        c = av.open(cam.url, options=OPTS, timeout=10)
        frames = c.decode(video=0)
        next(frames)
        cam.stop()
        with pytest.raises((av.error.FFmpegError, StopIteration)):
            for _ in range(1000):  # drain what was buffered, then it must end
                next(frames)
        c.close()
        cam.start()
        size, _ = read_frames(cam.url, 0.5)
        assert size == SRC_SIZE
    assert not cam.running
