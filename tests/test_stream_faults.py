"""Streams that misbehave: a camera whose clock jumps backwards mid-stream, one corrupt
packet, a burst of line noise on the wire that the demuxer cannot read. Recording goes on and
the stream is not reconnected; a camera that really dies still is. Crafted from the real
footage."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from tests.support.engine import EngineProcess
from tests.support.tscamera import HttpTsCamera, insert_junk, ts_schedule
from vigil_engine.capture.source import Capture
from vigil_engine.config import parse_config

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

CLIP = 10  # seconds of footage before the clock jumps back
JUNK_AT = 12.0  # seconds into each connection of the HTTP camera
JUNK_BYTES = 1_000_000  # line noise: far more than the TS demuxer resyncs through


def craft(folder: Path, footage: Path) -> tuple[Path, Path]:
    """``jump.ts``: the footage twice in one MPEG-TS, so timestamps fall back by CLIP s
    after CLIP s (a camera restarting its clock). ``glitch.mp4``: one packet whose NAL length
    is broken, which the decoder rejects outright."""
    parts = []
    for seconds in (CLIP, 3 * CLIP):  # the second part leaves time to watch before a loop
        part = folder / f"part{seconds}.ts"
        subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(footage), "-t",
                        str(seconds), "-c", "copy", "-bsf:v", "h264_mp4toannexb", "-f",
                        "mpegts", str(part)], check=True)
        parts.append(part.read_bytes())
    jump = folder / "jump.ts"
    jump.write_bytes(b"".join(parts))
    clean = folder / "clean.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(footage), "-t", "30",
                    "-c", "copy", "-movflags", "+faststart", str(clean)], check=True)
    with av.open(str(clean)) as c:
        packets = [(p.pos, p.size, p.is_keyframe) for p in c.demux(c.streams.video[0])
                   if p.size]
    data = bytearray(clean.read_bytes())
    pos, size, _ = next(p for p in packets[40:] if not p[2])  # about 4 s in
    data[pos:pos + 4] = (size * 4).to_bytes(4, "big")
    glitch = folder / "glitch.mp4"
    glitch.write_bytes(bytes(data))
    # The crafted packet really is rejected by the decoder.
    with av.open(str(glitch)) as c, pytest.raises(av.error.InvalidDataError):
        for p in c.demux(c.streams.video[0]):
            p.decode()
    return jump, glitch


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, footage_mp4: Path) -> Iterator[EngineProcess]:
    tmp = tmp_path_factory.mktemp("faults")
    jump, glitch = craft(tmp, footage_mp4)
    base = {"detect": {"fps": 1, "width": 384, "height": 288},
            "record": {"enabled": True, "segment_seconds": 3}}
    config = {"storage": {"check_seconds": 5}, "cameras": {
        "jumpy": {**base, "inputs": [{"url": str(jump), "roles": ["detect", "record"],
                                      "loop": True}]},
        "glitchy": {**base, "inputs": [{"url": str(glitch), "roles": ["detect", "record"],
                                        "loop": True}]},
    }}
    eng = EngineProcess(tmp, config).start()
    yield eng
    eng.stop()


def segments(engine: EngineProcess, camera: str) -> list[dict[str, Any]]:
    now = time.time()
    return engine.json(f"/api/cameras/{camera}/recordings?since={now - 600}&until={now + 60}"
                       )["segments"]


def test_backward_timestamp_jump_starts_a_new_segment(engine: EngineProcess) -> None:
    engine.wait_for(lambda: engine.camera("jumpy")["record"]["clock_jumps"] >= 1, 60,
                    what="the clock jump")
    jumped_at = time.time()
    assert engine.camera("jumpy")["stats"]["reconnects"] == 0
    engine.wait_for(lambda: any(s["start_time"] > jumped_at + 1 for s in segments(
        engine, "jumpy")), 30, what="segments after the jump")
    cam = engine.camera("jumpy")
    assert cam["stats"]["reconnects"] == 0  # recorded through, not reconnected
    segs = segments(engine, "jumpy")
    for s in segs:
        assert s["end_time"] > s["start_time"]
    for a, b in itertools.pairwise(segs):
        assert b["start_time"] >= a["start_time"]
        # No hole where the old code dropped every packet until the next reconnect.
        assert b["start_time"] - a["end_time"] < 2.0, (a, b)
    assert "timestamps jumped" in engine.log()


def test_one_corrupt_packet_does_not_reconnect_the_stream(engine: EngineProcess) -> None:
    cam = engine.wait_for(lambda: (c := engine.camera("glitchy"))["stats"]["decode_errors"]
                          >= 1 and c, 60, what="the corrupt packet")
    assert cam["stats"]["reconnects"] == 0
    frames = cam["stats"]["frames"]
    time.sleep(3)
    cam = engine.camera("glitchy")
    assert cam["status"] == "online" and cam["stats"]["reconnects"] == 0
    assert cam["stats"]["frames"] > frames  # still delivering, on the same connection
    assert cam["stats"]["decode_errors"] == 1


@pytest.fixture(scope="module")
def noisy_camera(tmp_path_factory: pytest.TempPathFactory, footage_ts: Path
                 ) -> Iterator[HttpTsCamera]:
    """An MPEG-TS camera over HTTP whose stream carries a burst of noise JUNK_AT s in."""
    data, schedule = insert_junk(footage_ts.read_bytes(), ts_schedule(footage_ts), JUNK_AT,
                                 JUNK_BYTES)
    # The noise really breaks demuxing (not just a frame): FFmpeg's TS demuxer gives up on it.
    noisy = tmp_path_factory.mktemp("wire") / "noisy.ts"
    noisy.write_bytes(data)
    with av.open(str(noisy)) as c, pytest.raises(av.error.FFmpegError):
        for _ in c.demux(c.streams.video[0]):
            pass
    cam = HttpTsCamera(data, schedule).start()
    yield cam
    cam.stop()


@pytest.fixture(scope="module")
def garbage_camera(footage_ts: Path) -> Iterator[HttpTsCamera]:
    """A camera that turns to garbage JUNK_AT s in (tens of MB of it): a broken stream."""
    data, schedule = insert_junk(footage_ts.read_bytes(), ts_schedule(footage_ts), JUNK_AT,
                                 40_000_000)
    cam = HttpTsCamera(data, schedule).start()
    yield cam
    cam.stop()


def test_noise_on_the_wire_is_skipped_and_a_dead_camera_reconnects(
        tmp_path: Path, noisy_camera: HttpTsCamera, garbage_camera: HttpTsCamera) -> None:
    base = {"detect": {"fps": 1, "width": 384, "height": 288},
            "record": {"enabled": True, "segment_seconds": 3}}
    config = {"storage": {"check_seconds": 5}, "cameras": {
        "wire": {**base, "inputs": [{"url": noisy_camera.url, "roles": ["detect", "record"]}]},
        "garbage": {**base, "inputs": [{"url": garbage_camera.url,
                                        "roles": ["detect", "record"]}]}}}
    with EngineProcess(tmp_path, config) as eng:
        cam = eng.wait_for(lambda: (c := eng.camera("wire"))["stats"]["demux_errors"] >= 1
                           and c, 90, what="the noise on the wire")
        noise_seen = time.time()
        assert cam["stats"]["reconnects"] == 0, cam
        assert cam["status"] == "online"
        assert noisy_camera.connections == 1  # seen from the camera: one connection only
        eng.wait_for(lambda: any(s["start_time"] > noise_seen + 3 for s in segments(
            eng, "wire")), 60, what="segments after the noise")
        cam = eng.camera("wire")
        assert cam["status"] == "online" and cam["stats"]["reconnects"] == 0, cam
        assert noisy_camera.connections == 1
        now = time.time()
        rec = eng.json(f"/api/cameras/wire/recordings?since={now - 600}&until={now + 60}")
        assert rec["outages"] == []
        segs = rec["segments"]
        assert len(segs) >= 4
        assert segs[0]["start_time"] < noise_seen - 3  # the footage spans the noise...
        for a, b in itertools.pairwise(segs):
            assert b["start_time"] - a["end_time"] < 2.0, (a, b)  # ...without a hole
        log = eng.log()
        assert "wire: skipped unreadable stream data" in log
        assert "wire: reconnecting" not in log

        # Garbage that keeps coming is a broken stream: that connection is given up.
        eng.wait_for(lambda: eng.camera("garbage")["stats"]["reconnects"] >= 1, 60,
                     what="the garbage camera's reconnect")
        assert garbage_camera.connections >= 2
        assert "garbage: offline (unreadable stream" in eng.log()

        # A camera that dies for real is still reconnected (with backoff) once it is back.
        noisy_camera.stop()
        eng.wait_for(lambda: eng.camera("wire")["status"] == "offline", 30,
                     what="the dead camera to go offline")
        time.sleep(4)  # refused for a while: the engine keeps trying, backing off
        noisy_camera.start()
        eng.wait_for(lambda: (c := eng.camera("wire"))["status"] == "online"
                     and c["stats"]["reconnects"] == 1, 60, what="the reconnect")
        assert noisy_camera.connections == 2
        now = time.time()
        outages = eng.json(f"/api/cameras/wire/recordings?since={now - 600}&until={now + 60}"
                           )["outages"]
        assert len(outages) == 1 and outages[0]["end_time"] is not None, outages
        assert "wire: reconnecting in" in eng.log()


def test_a_restreamers_buffered_seconds_are_placed_when_filmed(
        tmp_path: Path, footage_ts: Path) -> None:
    """A restreamer or NVR hands a new client the last seconds it buffered, at once, then
    goes on live. Those seconds were filmed before the engine connected: the index must say
    so, and the segments of the run must meet end to start (no overlap a player would
    stumble on: the playlist's clock must match the index's)."""
    burst = 3.0
    with HttpTsCamera(footage_ts.read_bytes(), ts_schedule(footage_ts), burst=burst) as cam:
        config = {"storage": {"check_seconds": 5}, "cameras": {"relay": {
            "inputs": [{"url": cam.url, "roles": ["detect", "record"]}],
            "detect": {"fps": 1, "width": 384, "height": 288},
            "record": {"enabled": True, "segment_seconds": 3}}}}
        with EngineProcess(tmp_path, config) as eng:
            segs = eng.wait_for(lambda: (s := segments(eng, "relay")) and len(s) >= 5 and s,
                                90, what="five segments")
            assert cam.connections == 1
            connected = cam.connected_at[0]
            # Filmed up to `burst` seconds before the connection (the camera sends ~0.3 s
            # ahead of its clock, and the engine starts reading a moment after connecting).
            assert connected - burst - 1.0 < segs[0]["start_time"] < connected - burst + 1.0, \
                (segs[0]["start_time"] - connected)
            for a, b in itertools.pairwise(segs):
                assert abs(b["start_time"] - a["end_time"]) < 0.05, (a, b)
            # The playlist of the run says the same as the index, to the end of the run.
            resp = eng.get(f"/api/cameras/relay/vod.m3u8?start={segs[0]['start_time'] + 0.5}")
            assert resp.status == 200
            text = resp.body.decode()
            durations = [float(d) for d in re.findall(r"#EXTINF:([\d.]+),", text)]
            assert len(durations) >= 5
            assert sum(durations) == pytest.approx(
                segs[len(durations) - 1]["end_time"] - segs[0]["start_time"], abs=0.05)
            assert "re-anchored" not in eng.log()


def test_a_restreamers_burst_is_sampled_on_the_detect_cadence(tmp_path: Path,
                                                              footage_ts: Path) -> None:
    """The seconds a restreamer hands over at connect arrive within a few milliseconds of
    each other. Sampling them all as they come gave the tracker two looks 3 ms apart, and a
    parked car's box jitter over 3 ms became a leap of 300 px/s: it 'drove' into the car
    parked beside it and opened an event. Samples keep at least half the detect interval
    between them, and the cadence holds."""
    fps = 5.0
    config = parse_config({"cameras": {"relay": {
        "inputs": [{"url": "http://127.0.0.1:1/stream.ts", "roles": ["detect"]}],
        "detect": {"fps": fps, "width": 384, "height": 288}}}}, data_dir=tmp_path)
    cam_config = config.cameras["relay"]

    async def sample(url: str, seconds: float) -> list[float]:
        times: list[float] = []
        source = dataclasses.replace(cam_config.inputs[0], url=url)
        capture = Capture("relay", source, cam_config.detect, asyncio.get_running_loop(),
                          lambda frame: times.append(frame.time))
        capture.start()
        await asyncio.sleep(seconds)
        await asyncio.to_thread(capture.stop)
        return times

    with HttpTsCamera(footage_ts.read_bytes(), ts_schedule(footage_ts), burst=3.0) as cam:
        times = asyncio.run(sample(cam.url, 6.0))
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(times) >= 20, times
    assert min(gaps) >= 0.5 / fps - 0.01, [round(g, 3) for g in gaps]
    span = times[-1] - times[0]
    assert (len(times) - 1) / span == pytest.approx(fps, rel=0.15)
