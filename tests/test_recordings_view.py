"""Recordings you can find and watch: the day timeline, HLS playback, previews and
export, against real footage from the real RTSP server with one real outage."""

from __future__ import annotations

import io
import itertools
import re
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import av
import pytest
from PIL import Image

from tests.support.engine import EngineProcess
from tests.support.rtsp import RtspCamera
from tests.support.wsclient import WsClient

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SEGMENT = 4.0
TZ = "Pacific/Auckland"  # far from UTC: local days differ from UTC days
TS_OFFSET = 10.0  # the playback clock's offset (record/playback.py)


@pytest.fixture(scope="module")
def stream(footage_ts: Path) -> Iterator[RtspCamera]:
    cam = RtspCamera(footage_ts).start()
    yield cam
    cam.stop()


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory,
           stream: RtspCamera) -> Iterator[EngineProcess]:
    eng = EngineProcess(tmp_path_factory.mktemp("recview"), {
        "location": {"timezone": TZ},
        "storage": {"check_seconds": 5},
        "cameras": {"yard": {
            "inputs": [{"url": stream.url, "roles": ["detect", "record"]}],
            "detect": {"fps": 2, "width": 768, "height": 576},
            "events": {"idle_timeout": 3, "max_length": 12},
            "record": {"enabled": True, "segment_seconds": SEGMENT, "pre_capture": 1,
                       "post_capture": 1},
        }},
    })
    eng.start()
    yield eng
    eng.stop()


def segments(engine: EngineProcess) -> list[dict[str, Any]]:
    now = time.time()
    return engine.json(f"/api/cameras/yard/recordings?since={now - 3600}&until={now + 60}"
                       )["segments"]


@pytest.fixture(scope="module")
def outage(engine: EngineProcess, stream: RtspCamera) -> tuple[float, float]:
    """Record a while, stop the camera's server for a few seconds, record again."""
    engine.wait_for(lambda: len(segments(engine)) >= 3, 60, what="three segments")
    stopped = time.time()
    stream.stop()
    engine.wait_for(lambda: not engine.camera("yard")["record"]["online"], 30,
                    what="the camera to drop")
    time.sleep(4)
    restarted = time.time()
    stream.restart()
    engine.wait_for(lambda: len([s for s in segments(engine)
                                 if s["start_time"] > restarted]) >= 2,
                    60, what="recording to resume")
    return stopped, restarted


def timeline(engine: EngineProcess, day: str | None = None) -> dict[str, Any]:
    return engine.json("/api/cameras/yard/timeline" + (f"?date={day}" if day else ""))


def test_timeline_shows_the_outage_as_a_gap_with_its_reason(
        engine: EngineProcess, outage: tuple[float, float]) -> None:
    stopped, restarted = outage
    tl = timeline(engine)
    local = datetime.fromtimestamp(time.time(), ZoneInfo(TZ))
    assert tl["date"] == local.strftime("%Y-%m-%d") and tl["tz"] == TZ
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    assert tl["start"] == midnight.timestamp()
    assert tl["segments"] == len(segments(engine))
    assert len(tl["spans"]) == 2, tl["spans"]  # before and after the outage
    first, second = tl["spans"]
    inner = [g for g in tl["gaps"]
             if g["start"] >= first["end"] - 1 and g["end"] <= second["start"] + 1]
    assert len(inner) == 1, tl["gaps"]
    gap = inner[0]
    # The gap covers the time the server was down (the player's clock is the stream's
    # own, so allow a little slack at the edges).
    assert gap["start"] < restarted and gap["end"] > stopped + 2
    assert gap["end"] - gap["start"] >= 3
    assert gap["reason"] == "outage" and "offline" in gap["detail"]
    # Before recording began today: a gap that says so, not an outage.
    assert tl["gaps"][0]["start"] == tl["start"] and tl["gaps"][0]["reason"] != "outage"
    # Activity: one bucket a minute of the local day, motion seen in the footage.
    act = tl["activity"]
    assert act["bucket"] == 60 and len(act["motion"]) == 1440
    assert any(v > 0 for v in act["motion"])


async def test_timeline_over_websocket_is_the_same_command(
        engine: EngineProcess, outage: tuple[float, float]) -> None:
    rest = timeline(engine)
    client = WsClient(engine.base)
    try:
        assert (await client.connect(engine.token))["type"] == "auth_ok"
        ws = (await client.call("recordings/timeline", camera="yard", date=rest["date"]))
        assert ws["success"], ws
        # Recording goes on meanwhile: only the finished part must match.
        assert ws["result"]["spans"][0] == rest["spans"][0]
        assert ws["result"]["spans"][1]["start"] == rest["spans"][1]["start"]
        assert ws["result"]["date"] == rest["date"]
        bad = await client.call("recordings/timeline", camera="yard", date="2026-02-30")
        assert not bad["success"] and "date" in bad["error"]["message"]
        unknown = await client.call("recordings/timeline", camera="gate")
        assert unknown["error"]["code"] == "unknown_camera"
    finally:
        await client.close()
    # Yesterday (local) has no footage: one gap, the whole day.
    yesterday = timeline(engine, "2020-01-01")
    assert yesterday["spans"] == [] and yesterday["segments"] == 0
    assert len(yesterday["gaps"]) == 1
    assert engine.get("/api/cameras/yard/timeline?date=tomorrow").status == 400
    assert engine.get("/api/cameras/yard/timeline?day=2020-01-01").status == 400


def parse_playlist(text: str) -> tuple[float, list[tuple[float, str]]]:
    start = re.search(r"#EXT-X-PROGRAM-DATE-TIME:(\S+)", text)
    assert start
    base = datetime.fromisoformat(start[1].replace("Z", "+00:00")).timestamp()
    entries = re.findall(r"#EXTINF:([\d.]+),\n(\S+)", text)
    return base, [(float(d), u) for d, u in entries]


def test_hls_playlist_plays_the_run_on_its_own_clock(
        engine: EngineProcess, outage: tuple[float, float]) -> None:
    segs = segments(engine)
    first_run_end = next(a["end_time"] for a, b in itertools.pairwise(segs)
                         if b["start_time"] - a["end_time"] > 1)
    at = segs[1]["start_time"] + 1
    resp = engine.get(f"/api/cameras/yard/vod.m3u8?start={at}")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("application/vnd.apple.mpegurl")
    text = resp.body.decode()
    assert "#EXT-X-ENDLIST" in text  # the run before the outage is finished
    base, entries = parse_playlist(text)
    assert base == pytest.approx(segs[0]["start_time"], abs=0.01)
    # The run stops at the outage: the playlist never jumps a gap.
    assert base + sum(d for d, _ in entries) == pytest.approx(first_run_end, abs=0.05)
    position = 0.0
    for duration, url in entries[:3]:
        ts = engine.get(f"/api/cameras/yard/{url}")
        assert ts.status == 200 and ts.headers["Content-Type"] == "video/mp2t"
        with av.open(io.BytesIO(ts.body), format="mpegts") as c:
            times = [f.time for f in c.decode(video=0)]
        assert len(times) >= 8 * (duration - 0.5)  # ~10 fps footage, every frame there
        first_pts = min(times) - TS_OFFSET
        # Each segment sits where the segment index says, on the run's clock.
        assert first_pts == pytest.approx(position, abs=0.35), (url, first_pts, position)
        position += duration
    # The run after the outage reaches the newest footage: the player keeps reloading it.
    live = engine.get(f"/api/cameras/yard/vod.m3u8?start={segs[-1]['start_time'] + 0.5}")
    assert live.status == 200 and "#EXT-X-ENDLIST" not in live.body.decode()
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in live.body.decode()


def test_playback_needs_auth_and_refuses_traversal(
        engine: EngineProcess, outage: tuple[float, float]) -> None:
    segs = segments(engine)
    at = segs[0]["start_time"] + 1
    _, entries = parse_playlist(engine.get(f"/api/cameras/yard/vod.m3u8?start={at}").body.decode())
    seg_url = f"/api/cameras/yard/{entries[0][1]}"
    for path in (f"/api/cameras/yard/vod.m3u8?start={at}", seg_url,
                 f"/api/cameras/yard/preview.jpg?time={at}", "/api/cameras/yard/timeline"):
        assert engine.get(path, token="wrong-token-wrong-token").status == 401, path
    seg_id = re.search(r"vod/(\d+)\.ts", seg_url)[1]  # type: ignore[index]
    for path in ("/api/cameras/yard/vod/..%2F..%2Fvigil.db.ts?base=1",
                 "/api/cameras/yard/vod/%2e%2e.ts?base=1",
                 f"/api/cameras/gate/vod/{seg_id}.ts?base={at}",
                 "/api/cameras/yard/vod/99999999.ts?base=1"):
        r = engine.get(path)
        assert r.status == 404, (path, r.status)
        assert b"SQLite" not in r.body
    assert engine.get(seg_url.split("?")[0] + "?base=abc").status == 400
    assert engine.get("/api/cameras/yard/vod.m3u8?start=1000").status == 404
    assert engine.get("/api/cameras/yard/vod.m3u8").status == 400


def test_hover_preview_is_a_small_keyframe_picture(
        engine: EngineProcess, outage: tuple[float, float]) -> None:
    segs = segments(engine)
    at = segs[1]["start_time"] + 2
    resp = engine.get(f"/api/cameras/yard/preview.jpg?time={at}&height=90")
    assert resp.status == 200 and resp.headers["Content-Type"] == "image/jpeg"
    img = Image.open(io.BytesIO(resp.body))
    assert img.size[1] == 90 and 100 <= img.size[0] <= 130  # 768x576 scaled down
    assert sum(1 for n in img.convert("L").histogram() if n) > 20  # a picture, not a blank
    again = engine.get(f"/api/cameras/yard/preview.jpg?time={at}&height=90")
    assert again.body == resp.body
    assert engine.get("/api/cameras/yard/preview.jpg?time=1000").status == 404
    assert engine.get(f"/api/cameras/yard/preview.jpg?time={at}&height=5000").status == 400


def test_export_of_a_span_across_the_outage_plays(
        engine: EngineProcess, outage: tuple[float, float]) -> None:
    segs = segments(engine)
    start, end = segs[0]["start_time"] + 1, segs[1]["end_time"] + 2
    resp = engine.get(f"/api/cameras/yard/clip.mp4?start={start}&end={end}")
    assert resp.status == 200 and resp.headers["Content-Type"] == "video/mp4"
    with av.open(io.BytesIO(resp.body)) as c:
        duration = c.duration / 1e6
        frames = sum(1 for _ in c.decode(video=0))
    assert end - start - 1.5 <= duration <= end - start + 1.5
    assert frames >= 8 * (end - start - 1.5)
