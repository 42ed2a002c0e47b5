"""The dashboard card's side of the integration: the bundle served and registered with
the frontend, and the ``vigil/subscribe`` stream it lives on, against a real engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

from custom_components.vigil.card import CARD_FILE, CARD_URL
from tests.integration.conftest import entry_for
from tests.support.engine import EngineProcess

ROOT = Path(__file__).resolve().parents[2]


async def test_card_is_served_and_loaded_by_every_dashboard(
        hass: HomeAssistant, engine: EngineProcess, hass_client: Any) -> None:
    assert await async_setup_component(hass, "frontend", {})
    entry = entry_for(engine)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    urls = [u for u in hass.data["frontend_extra_module_url"].urls if u.startswith(CARD_URL)]
    assert len(urls) == 1
    version = urls[0].split("?v=")[1]
    assert len(version) == 12  # a hash of the bundle: a new bundle is a new URL
    client = await hass_client()
    resp = await client.get(urls[0])
    assert resp.status == 200
    body = await resp.read()
    assert body == CARD_FILE.read_bytes()
    assert b'customElements.define("vigil-card"' in body
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_subscription_streams_state_and_events_with_signed_media(
        hass: HomeAssistant, engine: EngineProcess, hass_ws_client: Any,
        hass_client_no_auth: Any) -> None:
    entry = entry_for(engine)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    ws = await hass_ws_client(hass)

    await ws.send_json({"id": 1, "type": "vigil/subscribe", "entry_id": "nope"})
    refused = await ws.receive_json()
    assert not refused["success"] and "nope" in refused["error"]["message"]

    await ws.send_json({"id": 2, "type": "vigil/subscribe", "limit": 5})
    assert (await ws.receive_json())["success"]
    snap = (await ws.receive_json())["event"]
    assert snap["type"] == "snapshot" and snap["entry_id"] == entry.entry_id
    assert snap["mode"] == "home" and snap["available"] is True
    cam = snap["cameras"][0]
    assert cam["name"] == "plaza" and cam["entity_id"] == "camera.plaza" and cam["online"]
    assert 0 < len(snap["events"]) <= 5
    assert all(e["camera"] == "plaza" for e in snap["events"])
    shown = next(e for e in snap["events"] if e["has_snapshot"])
    assert engine.token not in str(snap)
    anon = await hass_client_no_auth()
    resp = await anon.get(shown["snapshot_url"])
    assert resp.status == 200 and (await resp.read())[:2] == b"\xff\xd8"
    closed = next((e for e in snap["events"] if e["clip_url"]), None)
    if closed is not None:
        resp = await anon.get(closed["clip_url"], headers={"Range": "bytes=0-99"})
        assert resp.status == 206

    # Live: the footage keeps producing events, the arm mode change is pushed, and so is
    # an acknowledgement (a change automations never hear of as vigil_event).
    target = next(e for e in snap["events"] if not e["acknowledged"])
    await hass.services.async_call("vigil", "set_mode", {"mode": "night"}, blocking=True)
    await hass.services.async_call("vigil", "acknowledge_event", {"event_id": target["id"]},
                                   blocking=True)
    seen_mode = seen_event = seen_ack = False
    for _ in range(300):
        msg = (await ws.receive_json(timeout=60))["event"]
        if msg["type"] == "state" and msg["mode"] == "night":
            seen_mode = True
        if msg["type"] == "event":
            assert msg["action"] in ("new", "update", "end", "escalate")
            assert msg["event"]["camera"] == "plaza" and "risk" in msg["event"]
            seen_event = True
            if msg["event"]["id"] == target["id"] and msg["event"]["acknowledged"]:
                seen_ack = True
        if seen_mode and seen_event and seen_ack:
            break
    assert seen_mode and seen_event and seen_ack
    await hass.services.async_call("vigil", "set_mode", {"mode": "home"}, blocking=True)

    await ws.send_json({"id": 3, "type": "unsubscribe_events", "subscription": 2})
    while (reply := await ws.receive_json())["type"] != "result":
        pass
    assert reply["success"]
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_subscription_without_engine_says_so(hass: HomeAssistant,
                                                   hass_ws_client: Any) -> None:
    assert await async_setup_component(hass, "vigil", {})
    ws = await hass_ws_client(hass)
    await ws.send_json({"id": 1, "type": "vigil/subscribe"})
    reply = await ws.receive_json()
    assert not reply["success"]
    assert reply["error"]["message"] == "no Vigil engine is set up and loaded"


def test_bundled_blueprint_is_the_published_one() -> None:
    """HACS installs only custom_components/vigil: its copy must match the repository's."""
    published = ROOT / "blueprints" / "automation" / "vigil" / "notify.yaml"
    bundled = ROOT / "custom_components" / "vigil" / "blueprints" / "notify.yaml"
    assert bundled.read_bytes() == published.read_bytes()
