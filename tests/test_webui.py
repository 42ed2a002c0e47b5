"""The web UI in a real headless Chromium against the real engine on real footage.

Chromium is driven through chromedriver (W3C WebDriver over HTTP on 127.0.0.1).
Screenshots land in ``var/artifacts/`` for a person to look at.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import Browser, available
from tests.support.engine import ROOT, EngineProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

CAMERA = "lobby"
ARTIFACTS = ROOT / "var" / "artifacts"
ROW = "[data-testid=event-row]"
FETCH_STATUS = ("const done = arguments[arguments.length - 1];"
                "fetch(arguments[0], {credentials: 'same-origin'})"
                ".then((r) => done(r.status), (e) => done(String(e)))")


def webui_config(footage: Path) -> dict[str, Any]:
    return {
        "storage": {"check_seconds": 2},
        "cameras": {CAMERA: {
            "inputs": [{"url": str(footage), "roles": ["detect", "record"], "loop": True}],
            "detect": {"fps": 5, "width": 768, "height": 576},
            "events": {"idle_timeout": 3, "max_length": 10},
            "record": {"enabled": True, "segment_seconds": 4, "pre_capture": 1,
                       "post_capture": 1},
        }},
    }


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, footage_mp4: Path) -> Iterator[EngineProcess]:
    eng = EngineProcess(tmp_path_factory.mktemp("webui"), webui_config(footage_mp4))
    eng.start()
    yield eng
    eng.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    missing = available()
    if missing:
        pytest.fail(missing)
    with Browser(width=1280, height=900) as b:
        yield b


def row_ids(b: Browser) -> list[str]:
    return b.js(f"return [...document.querySelectorAll('{ROW}')].map((r) => r.dataset.id)")


def api_ids(engine: EngineProcess, query: str = "") -> list[str]:
    return [e["id"] for e in engine.json(f"/api/events?limit=50{query}")["events"]]


def search(b: Browser, engine: EngineProcess, text: str) -> list[str]:
    """Type into the search box; wait until the list shows what the API answers for it."""
    b.type("[data-testid=search]", text)
    query = f"&q={text}" if text else ""

    def settled() -> list[str] | None:
        shown = row_ids(b)
        expected = api_ids(engine, query)
        if shown != expected:
            return None
        if not expected:
            return [] if b.js("return document.querySelector("
                              "'[data-testid=events-status]').dataset.empty") == "true" else None
        return shown

    result = b.wait(lambda: (ids := settled()) is not None and [ids], 30,
                    what=f"search {text!r} to settle")
    return result[0]


def page_errors(b: Browser) -> list[str]:
    """JS exceptions and CSP refusals (expected 401s before login are not errors)."""
    return [m for m in b.console_errors()
            if "Content Security Policy" in m or "Refused to" in m or "Uncaught" in m]


def test_signed_out_shows_login_and_api_refuses(engine: EngineProcess,
                                                browser: Browser) -> None:
    b = browser
    b.get(engine.base + "/")
    b.wait(lambda: b.visible("[data-testid=login-form]"), 20, what="the login form")
    assert not b.visible("[data-testid=nav]")
    assert b.count(ROW) == 0
    assert b.js_async(FETCH_STATUS, "api/events") == 401
    assert b.js_async(FETCH_STATUS, "api/session") == 401
    # A wrong token is refused with a message, and the form stays.
    b.type("[data-testid=token]", "definitely-not-the-token")
    b.click("[data-testid=login-submit]")
    b.wait(lambda: b.visible("[data-testid=login-error]"), 20, what="the error message")
    assert "wrong token" in b.js(
        "return document.querySelector('[data-testid=login-error]').textContent").lower()
    assert b.visible("[data-testid=login-form]")
    assert page_errors(b) == []


def test_login_events_search_clip_and_system(engine: EngineProcess, browser: Browser) -> None:
    def closed_with_clips() -> list[dict[str, Any]] | None:
        # Closed long enough ago that the post-capture segment is on disk.
        done = [e for e in engine.all_events()
                if e["end_time"] and e["has_clip"] and e["end_time"] < time.time() - 6]
        return done if len(done) >= 2 else None

    ready = engine.wait_for(closed_with_clips, 180, 1, what="two closed events with clips")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    b = browser

    # ---- sign in through the form; the cookie then carries every request
    b.get(engine.base + "/#/events")
    b.wait(lambda: b.visible("[data-testid=login-form]"), 20, what="the login form")
    b.type("[data-testid=token]", engine.token)
    b.click("[data-testid=login-submit]")
    b.wait(lambda: b.count(ROW) >= 2, 30, what="two event rows")
    assert not b.visible("[data-testid=login-form]")
    assert b.js_async(FETCH_STATUS, "api/events") == 200
    # The WebSocket authenticated with the cookie alone.
    b.wait(lambda: b.js("return document.querySelector('[data-testid=conn]').textContent")
           == "live", 20, what="the WebSocket to be live")

    # Rows: risk level as a class, labels, thumbnails from the snapshot endpoint.
    first = b.js(f"""const r = document.querySelector('{ROW}');
        return {{risk: r.dataset.risk, cls: r.className, text: r.textContent,
                 thumb: r.querySelector('img.thumb')?.getAttribute('src')}}""")
    assert first["risk"] in ("none", "low", "medium", "high", "critical")
    assert f"risk-{first['risk']}" in first["cls"]
    assert CAMERA in first["text"] and "person" in first["text"]
    assert first["thumb"].startswith("api/events/") and first["thumb"].endswith("/snapshot.jpg")

    labels = b.js("return [...document.querySelectorAll('[data-testid=filter-label] option')]"
                  ".map((o) => o.value)")
    assert "person" in labels and "car" in labels  # what the camera tracks
    assert b.js("return [...document.querySelectorAll('[data-testid=filter-camera] option')]"
                ".map((o) => o.value)") == ["", CAMERA]

    # ---- free-text search narrows the list exactly as the API does
    everything = search(b, engine, "")
    by_camera = search(b, engine, CAMERA)
    assert len(by_camera) >= 2
    assert search(b, engine, "zebra") == []
    assert b.count(ROW) == 0 and b.visible("[data-testid=events-status]")
    people = search(b, engine, "person")
    assert len(people) >= 2
    assert b.js(f"return [...document.querySelectorAll('{ROW}')]"
                ".every((r) => r.textContent.includes('person'))")
    everything = search(b, engine, "")
    assert len(everything) >= 2
    b.screenshot(ARTIFACTS / "webui-events.png", full_page=False)

    # ---- a new event is pushed over the WebSocket into the open list
    seen = set(everything)
    pushed = b.wait(lambda: [i for i in row_ids(b) if i not in seen], 90, 0.5,
                    what="a pushed event row")
    assert pushed[0] in api_ids(engine)

    # ---- one event: snapshot, playable clip, details, actions
    shown = set(row_ids(b))
    ev = max((e for e in ready if e["id"] in shown and e["has_snapshot"]),
             key=lambda e: e["start_time"])
    b.click(f'{ROW}[data-id="{ev["id"]}"]')
    b.wait(lambda: b.visible("[data-testid=event-page] [data-testid=clip]"), 20,
           what="the event page")
    assert b.js("return location.hash") == f"#/event/{ev['id']}"
    assert b.js("return document.querySelector('[data-testid=clip]').getAttribute('src')") == (
        f"api/events/{ev['id']}/clip.mp4")
    video = b.wait(lambda: b.js("""const v = document.querySelector('[data-testid=clip]');
        return v.readyState >= 2 && v.duration > 0 &&
               {ready: v.readyState, duration: v.duration, width: v.videoWidth,
                error: v.error && v.error.code}"""), 90, 0.5, what="the clip to load")
    assert video["duration"] > 1 and video["width"] == 768 and video["error"] is None
    b.wait(lambda: b.js("const i = document.querySelector('[data-testid=snapshot]');"
                        "return i.complete && i.naturalWidth > 0"), 20, what="the snapshot")
    assert b.js("return document.querySelector('[data-testid=snapshot]').getAttribute('src')") \
        == f"api/events/{ev['id']}/snapshot.jpg?bbox=1"
    full = engine.json(f"/api/events/{ev['id']}")
    assert b.js("return document.querySelector('[data-testid=summary]').textContent") == (
        full["risk"]["summary"])
    assert b.count("[data-testid=objects] tbody tr") == len(full["objects"])

    b.click("[data-testid=ack]")
    engine.wait_for(lambda: engine.json(f"/api/events/{ev['id']}")["acknowledged"], 10,
                    what="acknowledged")
    b.click("[data-testid=protect]")
    engine.wait_for(lambda: engine.json(f"/api/events/{ev['id']}")["protected"], 10,
                    what="protected")
    b.wait(lambda: b.js("return document.querySelector('[data-testid=protect]').textContent")
           == "Unprotect", 10, what="the protect button to flip")
    assert b.js("return document.querySelector('[data-testid=ack]').disabled")
    b.screenshot(ARTIFACTS / "webui-event.png")
    b.click("[data-testid=rescore]")
    b.wait(lambda: b.visible("[data-testid=toast]"), 10, what="the rescore notice")

    # ---- back in the list, the row carries both markers
    b.click("a.back")
    b.wait(lambda: b.count(f'{ROW}[data-id="{ev["id"]}"] [data-testid=protected-marker]'), 20,
           what="the protected marker")
    assert b.count(f'{ROW}[data-id="{ev["id"]}"] [data-testid=ack-marker]') == 1

    # ---- system page: stats and the arm mode
    b.click("#nav a[data-view=system]")
    b.wait(lambda: "Detector" in b.js(
        "return document.querySelector('[data-testid=stats]').textContent"), 20,
        what="the stats")
    stats_text = b.js("return document.querySelector('[data-testid=stats]').textContent")
    assert CAMERA in stats_text and "Inference" in stats_text and "Oldest footage" in stats_text
    b.wait(lambda: b.js("return document.querySelector('[data-testid=mode]').value")
           == engine.json("/api/mode")["mode"], 10, what="the mode select")
    b.click("[data-testid=mode] option[value=away]")
    engine.wait_for(lambda: engine.json("/api/mode")["mode"] == "away", 10, what="mode away")
    b.screenshot(ARTIFACTS / "webui-system.png")

    # ---- live view: a tile with a real frame, the camera online
    b.click("#nav a[data-view=live]")
    b.wait(lambda: b.js(f"""const t = document.querySelector(
            '[data-testid=camera-tile][data-camera={CAMERA}]');
        const i = t && t.querySelector('img');
        return !!i && i.complete && i.naturalWidth > 0 && !t.classList.contains('noframe')"""),
        20, what="a live frame")
    assert "online" in b.js("return document.querySelector('[data-testid=camera-tile]')"
                            ".textContent")
    b.screenshot(ARTIFACTS / "webui-live.png", full_page=False)

    # ---- phone width
    b.emulate(390, 844, mobile=True)
    b.click("#nav a[data-view=events]")
    b.wait(lambda: b.count(ROW) >= 2, 20, what="rows at phone width")
    assert b.js("return document.documentElement.scrollWidth <= window.innerWidth")
    b.screenshot(ARTIFACTS / "webui-phone.png", full_page=False)

    assert page_errors(b) == []


def test_falls_back_to_polling_without_websocket(engine: EngineProcess,
                                                 browser: Browser) -> None:
    b = browser
    # Every page of this browser finds WebSocket broken, as behind a proxy that drops it.
    b.cdp("Page.addScriptToEvaluateOnNewDocument",
          source="window.WebSocket = function () { throw new Error('blocked'); };")
    b.get(engine.base + "/#/events")
    b.wait(lambda: b.visible("[data-testid=login-form]"), 20, what="the login form")
    b.type("[data-testid=token]", engine.token)
    b.click("[data-testid=login-submit]")
    b.wait(lambda: b.count(ROW) >= 1, 30, what="event rows")
    assert b.js("return document.querySelector('[data-testid=conn]').textContent") == "polling"
    seen = set(row_ids(b))
    # Events keep coming from the looped footage; polling (every 10 s) brings them in.
    new = b.wait(lambda: [i for i in row_ids(b) if i not in seen], 60, 0.5,
                 what="a polled event row")
    assert new[0] in api_ids(engine)
    assert page_errors(b) == []
