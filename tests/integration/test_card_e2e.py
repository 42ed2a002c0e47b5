"""The card in a real browser: a real ``hass`` process with the integration against a real
engine on real footage, a dashboard with the card, headless Chromium signed in as the
owner. The user sees risk-rated events live and acknowledges one; the engine agrees."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration.test_hass_e2e import Hass, wait
from tests.support.browser import Browser, available
from tests.support.engine import EngineProcess

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "var" / "artifacts"
LEVELS = ("Low", "Medium", "High", "Critical")
DASHBOARD = "vigil-security"  # a dashboard's URL path needs a hyphen

# Finds the card through the dashboard's nested shadow roots.
FIND_CARD = """
const seen = new Set();
function find(root) {
  for (const el of root.querySelectorAll('*')) {
    if (el.localName === 'vigil-card') return el;
    if (el.shadowRoot && !seen.has(el.shadowRoot)) {
      seen.add(el.shadowRoot);
      const hit = find(el.shadowRoot);
      if (hit) return hit;
    }
  }
  return null;
}
const card = find(document);
"""


@pytest.fixture
def hass_with_frontend(tmp_path: Path, socket_enabled: Any) -> Any:
    proc = Hass(tmp_path / "config")
    proc.extra_config = "frontend:\n"
    proc.start()
    yield proc
    proc.stop()


def card_js(browser: Browser, body: str) -> Any:
    return browser.js(FIND_CARD + "if (!card || !card.shadowRoot) return null;\n" + body)


def click_in_card(browser: Browser, css: str) -> None:
    """A real mouse click (CDP input events) at the centre of an element inside the card."""
    rect = card_js(browser, f"""
        const el = card.shadowRoot.querySelector({json.dumps(css)});
        if (!el) return null;
        el.scrollIntoView({{block: 'center'}});
        const r = el.getBoundingClientRect();
        return {{x: r.x + r.width / 2, y: r.y + r.height / 2}};""")
    assert rect, f"{css} is not in the card"
    for kind in ("mousePressed", "mouseReleased"):
        browser.cdp("Input.dispatchMouseEvent", type=kind, x=rect["x"], y=rect["y"],
                    button="left", clickCount=1)


def press(browser: Browser, key: str, code: int) -> None:
    """A real key press (CDP input events) on whatever has the focus."""
    text = "\r" if key == "Enter" else ""
    browser.cdp("Input.dispatchKeyEvent", type="keyDown", key=key, code=key,
                windowsVirtualKeyCode=code, text=text)
    browser.cdp("Input.dispatchKeyEvent", type="keyUp", key=key, code=key,
                windowsVirtualKeyCode=code)


def test_card_on_a_real_dashboard(hass_with_frontend: Hass, engine: EngineProcess) -> None:
    reason = available()
    if reason:
        pytest.fail(reason)
    hass = hass_with_frontend
    hass.onboard()
    status, flow = hass.call("POST", "/api/config/config_entries/flow", {"handler": "vigil"})
    assert status == 200, flow
    status, done = hass.call("POST", f"/api/config/config_entries/flow/{flow['flow_id']}",
                             {"host": "127.0.0.1", "port": engine.port, "token": engine.token})
    assert status == 200 and done["type"] == "create_entry", done
    wait(lambda: "camera.plaza" in hass.states(), 60, "Vigil entities")

    with Browser(width=1280, height=1000) as browser:
        # Sign in: the owner's tokens from HA's own login flow, where the frontend keeps them.
        browser.get(hass.base + "/onboarding.html")
        stored = {**{k: hass.tokens[k] for k in ("access_token", "refresh_token", "token_type",
                                                  "expires_in")},
                  "hassUrl": hass.base, "clientId": hass.base + "/",
                  "expires": int(time.time() * 1000) + hass.tokens["expires_in"] * 1000}
        browser.js("localStorage.setItem('hassTokens', arguments[0])", json.dumps(stored))
        browser.get(hass.base + "/lovelace/0")
        browser.wait(lambda: browser.js(
            "const h = document.querySelector('home-assistant');"
            "return !!(h && h.hass && h.hass.connected && h.hass.user)"), 60,
            what="the frontend signed in")
        # A new dashboard with the card, made through HA's own lovelace API as the
        # "Add dashboard" dialog does. Not the built-in "lovelace" one: on HA 2026.11 a
        # fresh install shows the generated Home dashboard and sends /lovelace/... there.
        saved = browser.js_async("""
            const done = arguments[arguments.length - 1];
            const hass = document.querySelector('home-assistant').hass;
            hass.callWS({type: 'lovelace/dashboards/create', url_path: arguments[0],
                         title: 'Security', mode: 'storage'})
              .then(() => hass.callWS({type: 'lovelace/config/save', url_path: arguments[0],
                config: {title: 'Security', views: [{title: 'Vigil', path: 'vigil',
                  cards: [{type: 'custom:vigil-card', title: 'Vigil', events: 6}]}]}}))
              .then(() => done('ok'), (e) => done('error: ' + (e.message || e.code)));""",
            DASHBOARD)
        assert saved == "ok", saved
        browser.get(f"{hass.base}/{DASHBOARD}/vigil")

        try:
            rows = browser.wait(lambda: card_js(browser, """
                return [...card.shadowRoot.querySelectorAll('button.event')].map((b) => ({
                  id: b.dataset.eventId, badge: b.querySelector('.badge').textContent.trim(),
                  text: b.textContent.replace(/\\s+/g, ' ').trim()}));"""), 90,
                what="event rows in the card")
        except TimeoutError as err:
            shot = browser.screenshot(ARTIFACTS / "vigil-card-no-rows.png", full_page=False)
            raise AssertionError(
                f"{err}\npage: {browser.js('return location.href')}, screenshot: {shot}\n"
                f"browser errors: {browser.console_errors()}\nhass log:\n{hass.log()[-3000:]}"
            ) from None
        assert all(r["badge"] in LEVELS for r in rows), rows
        assert 1 <= len(rows) <= 6
        camera = card_js(browser, """
            const a = card.shadowRoot.querySelector('article.camera');
            const img = a.querySelector('img.live');
            return {label: a.getAttribute('aria-label'), text: a.textContent,
                    image: img && img.complete && img.naturalWidth > 0};""")
        assert camera["label"] == "Camera Plaza" and "Online" in camera["text"], camera
        browser.wait(lambda: card_js(browser, """
            const i = card.shadowRoot.querySelector('img.thumb');
            return !!i && i.complete && i.naturalWidth > 0;"""), 30,
            what="a snapshot thumbnail loaded through the signed link")
        browser.wait(lambda: card_js(browser, """
            const i = card.shadowRoot.querySelector('img.live');
            return !!i && i.complete && i.naturalWidth > 0;"""), 30,
            what="the camera's live image")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        browser.screenshot(ARTIFACTS / "vigil-card.png", full_page=False)

        # Open an event the engine has not acknowledged and acknowledge it.
        target = next(r for r in rows if not engine.json(f"/api/events/{r['id']}")["acknowledged"])
        click_in_card(browser, f'button.event[data-event-id="{target["id"]}"]')
        dialog = browser.wait(lambda: card_js(browser, """
            const d = card.shadowRoot.querySelector('[role=dialog]');
            return d && {title: d.querySelector('h3').textContent,
                         ack: d.querySelector('button.ack').textContent.trim(),
                         media: !!d.querySelector('video, img.still, p.empty')};"""), 15,
            what="the event dialog")
        assert dialog["ack"] == "Acknowledge" and dialog["media"], dialog
        browser.screenshot(ARTIFACTS / "vigil-card-dialog.png", full_page=False)
        click_in_card(browser, "[role=dialog] button.ack")
        wait(lambda: engine.json(f"/api/events/{target['id']}")["acknowledged"], 30,
             "the engine's event acknowledged")
        browser.wait(lambda: card_js(browser, """
            const b = card.shadowRoot.querySelector('[role=dialog] button.ack');
            return b && b.disabled && b.textContent.trim() === 'Acknowledged';"""), 30,
            what="the card showing the acknowledgement pushed back")

        click_in_card(browser, "[role=dialog] .close")
        browser.wait(lambda: card_js(browser, "return !card.shadowRoot.querySelector('.dialog')"),
                     15, what="the dialog closed")

        # Keyboard only: Enter on a focused event opens it, Escape closes it and gives the
        # focus back to the event.
        card_js(browser, "card.shadowRoot.querySelector('button.event').focus(); return 1")
        press(browser, "Enter", 13)
        browser.wait(lambda: card_js(browser, """
            const d = card.shadowRoot.querySelector('[role=dialog]');
            return !!d && card.shadowRoot.activeElement === d.querySelector('.close');"""), 15,
            what="the dialog opened from the keyboard, focus on its close button")
        press(browser, "Escape", 27)
        browser.wait(lambda: card_js(browser, """
            return !card.shadowRoot.querySelector('[role=dialog]') &&
              card.shadowRoot.activeElement === card.shadowRoot.querySelector('button.event');"""),
            15, what="the dialog closed by Escape, focus back on the event")

        # The visual editor: HA's own form with the card's fields, cameras from the engine.
        browser.js("""
            const editor = customElements.get('vigil-card').getConfigElement();
            editor.id = 'vigil-editor-under-test';
            editor.hass = document.querySelector('home-assistant').hass;
            editor.setConfig({type: 'custom:vigil-card', min_level: 'medium'});
            document.body.appendChild(editor);""")
        labels = browser.wait(lambda: browser.js("""
            const e = document.getElementById('vigil-editor-under-test');
            const form = e && e.shadowRoot && e.shadowRoot.querySelector('ha-form');
            if (!form || !form.shadowRoot || e._cameras.length === 0) return null;
            return [...form.shadowRoot.querySelectorAll('ha-selector')].map((s) => s.label);"""),
            30, what="the card editor rendered by ha-form")
        assert labels == ["Title", "Engine", "Cameras (none chosen: all)", "Minimum risk level",
                          "Events shown"], labels
        assert browser.js("return document.getElementById('vigil-editor-under-test')._cameras"
                          ) == ["plaza"]
        browser.js("document.getElementById('vigil-editor-under-test').remove()")

        # On a phone the cameras stack in one column.
        browser.emulate(390, 844, mobile=True)
        columns = browser.wait(lambda: card_js(browser, """
            const g = card.shadowRoot.querySelector('.cameras');
            return getComputedStyle(g).gridTemplateColumns.split(' ').length;"""), 15,
            what="the phone layout")
        assert columns == 1
        browser.screenshot(ARTIFACTS / "vigil-card-phone.png", full_page=False)

        # HA's dark theme reaches the card through its CSS variables.
        browser.js("document.querySelector('home-assistant').dispatchEvent(new CustomEvent("
                   "'settheme', {detail: {theme: 'default', dark: true}}))")
        browser.wait(lambda: card_js(browser, """
            const rgb = getComputedStyle(card.shadowRoot.querySelector('ha-card'))
              .backgroundColor.match(/\\d+/g).map(Number);
            return rgb[0] + rgb[1] + rgb[2] < 150;"""), 15, what="the card in the dark theme")
        browser.screenshot(ARTIFACTS / "vigil-card-dark.png", full_page=False)
        errors = [e for e in browser.console_errors() if "vigil" in e.lower()]
        assert errors == [], errors

    assert hass.stop() == 0
    vigil_lines = [ln for ln in hass.log().splitlines()
                   if "custom_components.vigil" in ln and ("ERROR" in ln or "WARNING" in ln)]
    assert vigil_lines == [], vigil_lines
