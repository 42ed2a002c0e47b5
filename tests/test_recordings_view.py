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

from tests.support.browser import Browser
from tests.support.engine import ROOT, EngineProcess
from tests.support.rtsp import RtspCamera
from tests.support.wsclient import WsClient
from tests.test_webui import browser  # noqa: F401 - the same headless Chromium fixture

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
        # As an HA app: 127.0.0.1 stands in for the Supervisor's ingress proxy.
        "api": {"ingress": True, "ingress_proxies": ["127.0.0.1"]},
        "storage": {"check_seconds": 5},
        "cameras": {"yard": {
            "inputs": [{"url": stream.url, "roles": ["detect", "record"]}],
            "detect": {"fps": 2, "width": 768, "height": 576},
            "events": {"idle_timeout": 3, "max_length": 12},
            "record": {"enabled": True, "segment_seconds": SEGMENT, "pre_capture": 1,
                       "post_capture": 1},
        }, "gate": {  # a second camera for the synced 2x2 view (the same stream, cheaply)
            "inputs": [{"url": stream.url, "roles": ["detect", "record"]}],
            "detect": {"fps": 1, "width": 768, "height": 576},
            "record": {"enabled": True, "segment_seconds": SEGMENT},
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
    # The day's events, each with the risk level its marker is coloured by.
    assert tl["events"], "people walk through the footage"
    known = {e["id"]: e for e in engine.all_events("camera=yard")}
    for ev in tl["events"]:
        assert ev["start_time"] >= tl["start"] and ev["id"] in known
        assert ev["risk_level"] == (known[ev["id"]]["risk"] or {}).get("risk_level")


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
        unknown = await client.call("recordings/timeline", camera="garage")
        assert unknown["error"]["code"] == "unknown_camera"
    finally:
        await client.close()
    # Yesterday (local) has no footage: one gap, the whole day.
    yesterday = timeline(engine, "2020-01-01")
    assert yesterday["spans"] == [] and yesterday["segments"] == 0
    assert len(yesterday["gaps"]) == 1
    # Daylight saving days in Auckland are 23 and 25 hours long, minute buckets and all.
    for day, hours in (("2020-09-27", 23), ("2020-04-05", 25)):
        dst = timeline(engine, day)
        assert dst["end"] - dst["start"] == hours * 3600
        assert len(dst["activity"]["motion"]) == hours * 60
        assert datetime.fromtimestamp(dst["start"], ZoneInfo(TZ)).strftime("%H:%M") == "00:00"
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


@pytest.mark.parametrize("movflags", ["+faststart", "frag_keyframe+empty_moov+default_base_moof"])
def test_playback_works_for_plain_and_fragmented_mp4_segments(
        footage_mp4: Path, tmp_path: Path, movflags: str) -> None:
    """Segments may be written as plain or fragmented MP4: both play and preview."""
    from vigil_engine.record import playback

    seg = tmp_path / "seg.mp4"
    with av.open(str(footage_mp4)) as src, av.open(str(seg), "w", format="mp4",
                                                   options={"movflags": movflags}) as out:
        v = src.streams.video[0]
        ov = out.add_stream_from_template(v)
        for p in src.demux(v):
            if p.dts is None or p.pts is None or p.pts * v.time_base >= 10:
                continue
            p.stream = ov
            out.mux(p)
    assert (b"moof" in seg.read_bytes()) == ("frag" in movflags)
    ts = playback.remux_ts(seg, 1000.0, 990.0)  # 10 s into its run
    with av.open(io.BytesIO(ts), format="mpegts") as c:
        times = [f.time for f in c.decode(video=0)]
    assert len(times) >= 95 and min(times) - TS_OFFSET == pytest.approx(10.0, abs=0.05)
    rgb, when = playback.keyframe_preview(seg, 1000.0, 1007.3, 90, lambda _w: False)
    assert rgb is not None and rgb.shape[0] == 90 and 1006 <= when <= 1007.3


def test_playback_needs_auth_and_refuses_traversal(
        engine: EngineProcess, outage: tuple[float, float]) -> None:
    segs = segments(engine)
    at = segs[0]["start_time"] + 1
    _, entries = parse_playlist(engine.get(f"/api/cameras/yard/vod.m3u8?start={at}").body.decode())
    seg_url = f"/api/cameras/yard/{entries[0][1]}"
    for path in (f"/api/cameras/yard/vod.m3u8?start={at}", seg_url,
                 f"/api/cameras/yard/preview.jpg?time={at}", "/api/cameras/yard/timeline"):
        assert engine.get(path, token="wrong-token-wrong-token").status == 401, path
    # Through HA's ingress (the UI inside HA) the playlist and its segments play too.
    ingress = {"X-Ingress-Path": "/api/hassio_ingress/abc"}
    assert engine.get(f"/api/cameras/yard/vod.m3u8?start={at}", token="",
                      headers=ingress).status == 200
    assert engine.get(seg_url, token="", headers=ingress).status == 200
    assert engine.get(seg_url, token="").status == 401
    seg_id = re.search(r"vod/(\d+)\.ts", seg_url)[1]  # type: ignore[index]
    for path in ("/api/cameras/yard/vod/..%2F..%2Fvigil.db.ts?base=1",
                 "/api/cameras/yard/vod/%2e%2e.ts?base=1",
                 f"/api/cameras/gate/vod/{seg_id}.ts?base={at}",  # yard's segment id
                 f"/api/cameras/garage/vod/{seg_id}.ts?base={at}",
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


# ---------------------------------------------------------------------- the web UI

ARTIFACTS = ROOT / "var" / "artifacts"
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
PLAYER_STATE = """
const v = document.querySelector('[data-testid=rec-video]');
if (!v || !v.dataset.base) return null;
const q = v.getVideoPlaybackQuality();
return {base: Number(v.dataset.base), time: v.currentTime, paused: v.paused,
        ready: v.readyState, frames: q.totalVideoFrames};
"""
# Draw the current video frame and measure how much it varies (a blank frame does not).
FRAME_SPREAD = """
const v = document.querySelector('[data-testid=rec-video]');
const c = document.createElement('canvas');
c.width = 64; c.height = 48;
const g = c.getContext('2d');
g.drawImage(v, 0, 0, 64, 48);
const d = g.getImageData(0, 0, 64, 48).data;
let lo = 255, hi = 0;
for (let i = 0; i < d.length; i += 4) { lo = Math.min(lo, d[i + 1]); hi = Math.max(hi, d[i + 1]); }
return hi - lo;
"""


def pointer(b: Browser, element: str, *moves: tuple[str, float]) -> None:
    """Real pointer input (W3C actions) at x offsets (px from the element's centre)."""
    actions: list[dict[str, Any]] = []
    for kind, x in moves:
        actions.append({"type": "pointerMove", "origin": {ELEMENT: element}, "x": int(x),
                        "y": 0, "duration": 50})
        if kind in ("down", "click"):
            actions.append({"type": "pointerDown", "button": 0})
        if kind in ("up", "click"):
            actions.append({"type": "pointerUp", "button": 0})
    b.cmd("POST", "/actions", {"actions": [{"type": "pointer", "id": "mouse",
                                            "parameters": {"pointerType": "mouse"},
                                            "actions": actions}]})
    b.cmd("DELETE", "/actions")


def press(b: Browser, *keys: str) -> None:
    """Real key presses (W3C actions) into the page."""
    actions: list[dict[str, Any]] = []
    for key in keys:
        actions += [{"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]
    b.cmd("POST", "/actions", {"actions": [{"type": "key", "id": "keyboard",
                                            "actions": actions}]})
    b.cmd("DELETE", "/actions")


def offset_of(b: Browser, t: float) -> float:
    """Where time ``t`` is on the first timeline, in px from its centre."""
    w0, w1 = (float(v) for v in b.js(
        "return document.querySelector('[data-testid=rec-timelines]').dataset.window"
        ).split(","))
    width = b.js("return document.querySelector('[data-testid=rec-track]')"
                 ".getBoundingClientRect().width")
    assert w0 <= t <= w1, (w0, t, w1)
    return (t - w0) / (w1 - w0) * width - width / 2


def test_recordings_view_plays_from_the_clicked_moment(
        engine: EngineProcess, outage: tuple[float, float],
        browser: Browser) -> None:  # noqa: F811 - the fixture imported above
    b = browser
    segs = segments(engine)
    b.get(engine.base + "/#/recordings/yard")
    b.wait(lambda: b.visible("[data-testid=login-form]"), 20, what="the login form")
    b.type("[data-testid=token]", engine.token)
    b.click("[data-testid=login-submit]")
    b.wait(lambda: b.count("[data-testid=rec-track]") == 1, 30, what="the timeline")
    # The outage is on the timeline as a gap that says why.
    reasons = b.js("return [...document.querySelectorAll('[data-testid=rec-gap]')]"
                   ".map((g) => g.dataset.reason)")
    assert "outage" in reasons
    # Zoom in to 5 minutes around the newest footage, where one pixel is a fraction of a second.
    b.js("const s = document.querySelector('[data-testid=rec-zoom]');"
         "s.value = '300'; s.dispatchEvent(new Event('change'))")
    b.wait(lambda: b.count("[data-testid=rec-span]") == 2, 10, what="both spans in view")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    target = segs[1]["start_time"] + 1.5  # inside the run before the outage
    track = b.find("[data-testid=rec-track]")
    clicked = time.monotonic()
    pointer(b, track, ("click", offset_of(b, target)))
    state = b.wait(lambda: (s := b.js(PLAYER_STATE)) and s["time"] > 0 and s["ready"] >= 2
                   and s["frames"] > 0 and s, 20, 0.05, what="playback to start")
    first_frame_s = time.monotonic() - clicked
    asked = float(b.js("return document.querySelector('[data-testid=rec-timelines]')"
                       ".dataset.seek"))
    assert asked == pytest.approx(target, abs=1.0)  # the click landed where we aimed
    # Player time 0 is the first segment of the run, as the segment index has it.
    assert state["base"] == pytest.approx(segs[0]["start_time"], abs=0.01)
    wall = state["base"] + state["time"]
    # One pixel is ~0.25 s at this zoom; playback may already have moved on a little.
    assert target - 1.0 <= wall <= target + first_frame_s + 1.0, (target, wall)
    b.wait(lambda: b.js(PLAYER_STATE)["time"] > state["time"] + 0.5, 10,
           what="the video to play on")
    assert b.js(FRAME_SPREAD) > 40  # a real picture is on screen, not a black frame
    clock = float(b.js("return document.querySelector('[data-testid=rec-clock]').dataset.wall"))
    assert abs(clock - (state["base"] + b.js(PLAYER_STATE)["time"])) < 2
    b.screenshot(ARTIFACTS / "recordings-desktop.png", full_page=False)

    # Keyboard: space pauses, the right arrow steps 5 s on.
    b.js("document.querySelector('[data-testid=rec-play]').focus()")  # a focused button
    press(b, " ")  # toggles once, not once by the key and again by the button
    b.wait(lambda: b.js(PLAYER_STATE)["paused"], 5, what="space to pause")
    time.sleep(0.5)
    assert b.js(PLAYER_STATE)["paused"]
    before = b.js(PLAYER_STATE)["time"]
    press(b, "\ue014")  # ArrowRight
    b.wait(lambda: abs(b.js(PLAYER_STATE)["time"] - before - 5) < 0.5, 10,
           what="the arrow to step 5 s")
    press(b, "l", "l")  # play, then twice as fast
    assert b.js("return document.querySelector('[data-testid=rec-video]').playbackRate") == 2

    # Export: choose a span on the timeline, download it with progress.
    b.click("[data-testid=rec-select]")
    a, z = segs[0]["start_time"] + 1, segs[0]["start_time"] + 7
    pointer(b, track, ("down", offset_of(b, a)), ("up", offset_of(b, z)))
    b.wait(lambda: not b.js("return document.querySelector('[data-testid=rec-export]')"
                            ".disabled"), 5, what="the export button")
    b.click("[data-testid=rec-export]")
    size = b.wait(lambda: b.js("return document.querySelector('[data-testid=rec-export-note]')"
                               ".dataset.bytes"), 60, what="the export download")
    assert int(size) > 10_000
    assert b.js("return document.querySelector('[data-testid=rec-export-progress]').value") == 1
    b.screenshot(ARTIFACTS / "recordings-export.png", full_page=False)

    # A phone: the same view, laid out for a narrow screen.
    b.emulate(390, 844, mobile=True)
    b.wait(lambda: b.js("return document.querySelector('[data-testid=rec-track]')"
                        ".getBoundingClientRect().width") < 400, 5, what="the phone layout")
    assert b.js("return document.documentElement.scrollWidth") <= 400  # no sideways scroll
    b.screenshot(ARTIFACTS / "recordings-phone.png")
    errors = [m for m in b.console_errors()
              if "Content Security Policy" in m or "Refused to" in m or "Uncaught" in m]
    assert not errors, errors


SYNC_STATE = """
return [...document.querySelectorAll('[data-testid=rec-video]')].map((v) => ({
  camera: v.dataset.camera, wall: v.dataset.base ? Number(v.dataset.base) + v.currentTime : null,
  paused: v.paused, frames: v.getVideoPlaybackQuality().totalVideoFrames}));
"""


def test_two_cameras_play_side_by_side_in_sync(
        engine: EngineProcess, outage: tuple[float, float],
        browser: Browser) -> None:  # noqa: F811 - the fixture imported above
    b = browser
    b.get(engine.base + "/")
    b.js_async("const done = arguments[arguments.length - 1];"
               "fetch('api/login', {method: 'POST', headers: {'Content-Type': "
               "'application/json'}, body: JSON.stringify({token: arguments[0]})})"
               ".then((r) => done(r.status))", engine.token)
    b.get(engine.base + "/#/recordings/yard,gate")
    b.js("location.reload()")
    b.wait(lambda: b.count("[data-testid=rec-track]") == 2, 30, what="two timelines")
    assert b.count("[data-testid=player]") == 2
    assert b.js("return document.querySelector('[data-testid=rec-players]').className"
                ).endswith("n4")  # the 2x2 grid
    b.js("const s = document.querySelector('[data-testid=rec-zoom]');"
         "s.value = '300'; s.dispatchEvent(new Event('change'))")
    gate = engine.json(f"/api/cameras/gate/recordings?since={time.time() - 600}"
                       f"&until={time.time()}")["segments"]
    target = gate[1]["start_time"] + 1  # both cameras recorded then
    pointer(b, b.find("[data-testid=rec-track]"), ("click", offset_of(b, target)))

    def in_sync() -> list[dict[str, Any]] | None:
        players = b.js(SYNC_STATE)
        walls = [p["wall"] for p in players]
        if None in walls or any(p["paused"] or not p["frames"] for p in players):
            return None
        return players if max(walls) - min(walls) < 1.0 and min(walls) > target + 0.5 else None

    players = b.wait(in_sync, 30, 0.2, what="both cameras playing the same moment")
    assert {p["camera"] for p in players} == {"yard", "gate"}
    b.screenshot(ARTIFACTS / "recordings-2x2.png", full_page=False)
