"""The notification blueprint in Home Assistant, against a real engine on real footage:
the fast alert, the notification's own image link, the Acknowledge/Protect/Silence
buttons, the in-place update when the assessment arrives (from a real llama.cpp server
too), quiet hours, cooldowns and escalations."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.vigil.const import DOMAIN
from custom_components.vigil.notifications import Notifications
from tests.integration.conftest import engine_config, entry_for, wait_until
from tests.support.engine import EngineProcess
from tests.support.llm import LlamaServer
from tests.support.phone import add_phone

ROOT = Path(__file__).resolve().parents[2]
BLUEPRINT = ROOT / "blueprints" / "automation" / "vigil" / "notify.yaml"


@pytest.fixture
def config_dir(hass: HomeAssistant, tmp_path: Path) -> Path:
    """A config dir of this test's own (the blueprint and automations.yaml are written)."""
    hass.config.config_dir = str(tmp_path)
    (tmp_path / "configuration.yaml").write_text("automation: !include automations.yaml\n")
    (tmp_path / "automations.yaml").write_text("[]\n")
    return tmp_path


async def blueprint_automation(hass: HomeAssistant, config_dir: Path, engine: EngineProcess,
                               hass_client: Any, hass_ws_client: Any
                               ) -> tuple[MockConfigEntry, list[tuple[float, dict[str, Any]]]]:
    """The integration set up, and an automation made from its installed blueprint through
    HA's config API, notifying a recording phone."""
    device_id, calls = add_phone(hass)
    entry = entry_for(engine)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    installed = config_dir / "blueprints" / "automation" / "vigil" / "notify.yaml"
    assert installed.read_bytes() == BLUEPRINT.read_bytes()  # installed at setup

    assert await async_setup_component(hass, "config", {})
    assert await async_setup_component(hass, "automation", {})
    ws = await hass_ws_client(hass)
    await ws.send_json({"id": 1, "type": "blueprint/list", "domain": "automation"})
    listed = await ws.receive_json()
    assert listed["success"], listed
    found = listed["result"]["vigil/notify.yaml"]
    assert "error" not in found, found
    assert found["metadata"]["name"] == "Vigil security notifications"

    client = await hass_client()
    resp = await client.post("/api/config/automation/config/vigil_notify", json={
        "alias": "Vigil notify", "description": "",
        "use_blueprint": {"path": "vigil/notify.yaml", "input": {
            "notify_devices": [device_id], "min_level": "low", "cooldown": 0,
            "arm_modes": ["disarmed", "home", "away", "night", "vacation"]}}})
    assert resp.status == 200, await resp.text()
    await wait_until(hass, lambda: (s := hass.states.get("automation.vigil_notify"))
                     and s.state == "on", 30, "the automation made from the blueprint")
    return entry, calls


async def test_blueprint_fast_alert_image_and_buttons(
        hass: HomeAssistant, config_dir: Path, engine: EngineProcess, hass_client: Any,
        hass_client_no_auth: Any, hass_ws_client: Any) -> None:
    entry, calls = await blueprint_automation(hass, config_dir, engine, hass_client,
                                              hass_ws_client)
    # The fast alert: the rules' summary, snapshot link, tag = event id, three buttons.
    first = await wait_until(hass, lambda: calls and calls[0][1], 120, "the fast alert")
    data = first["data"]
    event_id = data["tag"]
    assert first["title"] == f"{first['title'].split()[0]} risk at Plaza"
    assert first["title"].split()[0] in ("Low", "Medium", "High", "Critical")
    assert "at Plaza" in first["message"], first["message"]  # the rules' own sentence
    assert [a["title"] for a in data["actions"]] == ["Acknowledge", "Protect",
                                                     "Silence camera 1 h"]
    assert data["alert_once"] is False and data["priority"] == "high" and data["ttl"] == 0
    assert data["channel"] in ("Vigil", "alarm_stream")
    assert engine.json(f"/api/events/{event_id}")["camera"] == "plaza"

    # The image link works with nothing but itself (no header, no token), and only so.
    image = data["image"]
    assert image.startswith(f"/api/vigil/{entry.entry_id}/snapshot/{event_id}.jpg?authSig=")
    assert engine.token not in image
    anon = await hass_client_no_auth()
    resp = await anon.get(image)
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "image/jpeg"
    assert (await resp.read())[:2] == b"\xff\xd8"
    assert (await anon.get(image.split("?")[0])).status == 401

    # The buttons, as the Companion app reports a press.
    actions = {a["title"]: a["action"] for a in data["actions"]}
    hass.bus.async_fire("mobile_app_notification_action", {"action": actions["Acknowledge"]})
    await wait_until(hass, lambda: engine.json(f"/api/events/{event_id}")["acknowledged"],
                     30, "the event acknowledged on the engine")
    hass.bus.async_fire("mobile_app_notification_action", {"action": actions["Protect"]})
    await wait_until(hass, lambda: engine.json(f"/api/events/{event_id}")["protected"],
                     30, "the event protected on the engine")
    hass.bus.async_fire("mobile_app_notification_action",
                        {"action": actions["Silence camera 1 h"]})
    await hass.async_block_till_done()

    async def prepared(**fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = await hass.services.async_call(
            DOMAIN, "prepare_notification", {"event_id": "1795241780937-02d9ae",
                                             "camera": "plaza", "action": "new", **fields},
            blocking=True, return_response=True)
        return result

    silenced = await wait_until(hass, lambda: hass.data["vigil_notifications"].silences, 10,
                                "the camera silenced")
    until = silenced[f"{entry.entry_id}/plaza"]
    assert 3500 < until - time.time() <= 3600
    assert (await prepared())["reason"] == "silenced"
    sent_before = len(calls)
    await asyncio.sleep(8)  # the footage keeps producing events: none may notify now
    await hass.async_block_till_done()
    assert len(calls) == sent_before
    await hass.services.async_call(DOMAIN, "silence_camera",
                                   {"camera": "plaza", "duration": {"seconds": 0}},
                                   blocking=True)
    assert (await prepared())["reason"] == "ok"

    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()



async def test_prepare_notification_rules(hass: HomeAssistant, config_dir: Path,
                                          engine: EngineProcess) -> None:
    """Cooldowns per camera or global, arm modes, updates that follow their alert."""
    entry = entry_for(engine)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()

    async def prep(event_id: str, action: str = "new", **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = await hass.services.async_call(
            DOMAIN, "prepare_notification",
            {"event_id": event_id, "camera": "plaza", "action": action, "key": "a", **fields},
            blocking=True, return_response=True)
        return result

    first = await prep("1000000000000-aaaaaa", cooldown=300)
    assert first["send"] and not first["in_place"] and first["mode"] == "home"
    assert (await prep("1000000000001-bbbbbb", cooldown=300))["reason"] == "cooldown"
    # another automation keeps its own cooldown
    assert (await prep("1000000000001-bbbbbb", cooldown=300, key="b"))["send"]
    # the AI update of the alert sent goes through and is an update
    update = await prep("1000000000000-aaaaaa", "assessed", cooldown=300)
    assert update["send"] and update["in_place"]
    # an event below the minimum level is never announced by its update
    assert (await prep("1000000000002-cccccc", "assessed", update_only=True))["reason"] == \
        "below_minimum"
    # an escalation breaks through the cooldown
    assert (await prep("1000000000001-bbbbbb", "escalate", cooldown=300))["send"]
    assert (await prep("1000000000003-dddddd", modes=["away"]))["reason"] == "mode"
    assert (await prep("1000000000003-dddddd", "end"))["reason"] == "ended"
    with pytest.raises(ServiceValidationError):
        await prep("1000000000003-dddddd", camera="garage")

    # silences are kept in HA's storage, so a restart does not end them
    await hass.services.async_call(DOMAIN, "silence_camera",
                                   {"camera": "plaza", "duration": {"minutes": 5}},
                                   blocking=True)
    assert (await prep("1000000000004-eeeeee"))["silenced_until"]
    await asyncio.sleep(1.5)  # the store writes after a second
    fresh = Notifications(hass)
    await fresh.async_load()
    assert fresh.silenced_until(entry.entry_id, "plaza")
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_blueprint_quiet_hours_critical_and_escalation(
        hass: HomeAssistant, config_dir: Path, engine: EngineProcess) -> None:
    """Quiet hours hold back all but critical events, which use the alarm channels; a
    cooldown holds back the next event but not its escalation. The events are shaped
    as the integration fires them (CONTRACTS.md: vigil_event with action and id)."""
    device_id, calls = add_phone(hass)
    entry = entry_for(engine)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    now = dt_util.now()
    assert await async_setup_component(hass, "automation", {"automation": [{
        "alias": "Vigil quiet", "use_blueprint": {"path": "vigil/notify.yaml", "input": {
            "notify_devices": [device_id], "cameras": ["plaza"], "min_level": "low",
            "cooldown": 600, "cooldown_scope": "camera", "quiet_hours": True,
            "quiet_start": (now - timedelta(hours=1)).strftime("%H:%M:%S"),
            "quiet_end": (now + timedelta(hours=1)).strftime("%H:%M:%S")}}}]})
    await hass.async_block_till_done()

    def fire(action: str, ident: str, level: str) -> None:
        hass.bus.async_fire("vigil_event", {
            "action": action, "engine": "x", "entry_id": entry.entry_id, "id": ident,
            "camera": "plaza", "labels": ["person"], "zones": ["lawn"],
            "start_time": time.time(), "end_time": None, "alert": level == "critical",
            "risk": {"risk_level": level, "risk_score": 90 if level == "critical" else 40,
                     "summary": f"A {level} thing", "status": "final", "provider": "rules"},
            "escalation": None})

    calls.clear()  # what the engine's own (medium, quiet-held) events may have left
    fire("new", "1795241780937-00000a", "medium")
    await hass.async_block_till_done()
    assert [c for _, c in calls if c["data"]["tag"].endswith("0000a")] == []  # quiet hours

    fire("new", "1795241780937-00000b", "critical")
    await hass.async_block_till_done()
    critical = [c for _, c in calls if c["data"]["tag"] == "1795241780937-00000b"]
    assert len(critical) == 1, calls
    assert critical[0]["title"] == "Critical risk at Plaza"
    assert critical[0]["data"]["channel"] == "alarm_stream"
    assert critical[0]["data"]["push"] == {
        "interruption-level": "critical",
        "sound": {"name": "default", "critical": 1, "volume": 1.0}}

    fire("new", "1795241780937-00000c", "critical")  # within the camera's cooldown
    await hass.async_block_till_done()
    assert [c for _, c in calls if c["data"]["tag"] == "1795241780937-00000c"] == []
    fire("escalate", "1795241780937-00000c", "critical")  # an escalation gets through
    await hass.async_block_till_done()
    escalated = [c for _, c in calls if c["data"]["tag"] == "1795241780937-00000c"]
    assert [c["title"] for c in escalated] == ["Escalated: Critical risk at Plaza"]
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def phone_automation(hass: HomeAssistant, engine: EngineProcess, **inputs: Any
                           ) -> tuple[MockConfigEntry, list[tuple[float, dict[str, Any]]]]:
    """The integration set up and a YAML automation from the blueprint notifying a
    recording phone (no cooldown unless ``inputs`` say so)."""
    device_id, calls = add_phone(hass)
    entry = entry_for(engine)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert await async_setup_component(hass, "automation", {"automation": [{
        "alias": "Vigil phone", "use_blueprint": {"path": "vigil/notify.yaml", "input": {
            "notify_devices": [device_id], "cooldown": 0, **inputs}}}]})
    await hass.async_block_till_done()
    return entry, calls


async def test_blueprint_updates_the_alert_in_place_when_assessed(
        hass: HomeAssistant, config_dir: Path, engine: EngineProcess) -> None:
    """`assessed` (the LLM's answer, CONTRACTS.md) replaces the alert's text in place,
    quietly; an assessment of an event never announced (below the minimum) stays quiet."""
    entry, calls = await phone_automation(hass, engine, cameras=["plaza"], min_level="high")

    def fire(action: str, ident: str, level: str, summary: str, provider: str) -> None:
        hass.bus.async_fire("vigil_event", {
            "action": action, "engine": "x", "entry_id": entry.entry_id, "id": ident,
            "camera": "plaza", "labels": ["person"], "zones": ["lawn"],
            "start_time": time.time(), "end_time": None, "alert": True,
            "risk": {"risk_level": level, "risk_score": 70, "summary": summary,
                     "status": "pending" if provider == "rules" else "final",
                     "provider": provider}, "escalation": None})

    def sent(ident: str) -> list[dict[str, Any]]:
        return [c for _, c in calls if c["data"]["tag"] == ident]

    fire("new", "1795241780937-0000a1", "high", "A person at the door", "rules")
    await hass.async_block_till_done()
    alert = sent("1795241780937-0000a1")
    assert [c["message"] for c in alert] == ["A person at the door · AI assessment pending"]
    assert alert[0]["data"]["alert_once"] is False
    assert alert[0]["data"]["push"]["interruption-level"] == "time-sensitive"
    fire("assessed", "1795241780937-0000a1", "medium", "A courier leaves a parcel", "openai")
    await hass.async_block_till_done()
    update = sent("1795241780937-0000a1")[1:]
    assert [c["message"] for c in update] == ["A courier leaves a parcel"]
    assert update[0]["title"] == "Medium risk at Plaza"  # the update even below the minimum
    assert update[0]["data"]["alert_once"] is True
    assert update[0]["data"]["push"]["interruption-level"] == "passive"
    assert update[0]["data"]["image"].startswith(
        f"/api/vigil/{entry.entry_id}/snapshot/1795241780937-0000a1.jpg?authSig=")

    fire("new", "1795241780937-0000a2", "low", "A cat", "rules")
    fire("assessed", "1795241780937-0000a2", "medium", "Still a cat", "openai")
    await hass.async_block_till_done()
    assert sent("1795241780937-0000a2") == []
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.fixture
def llm_engine(tmp_path: Path, socket_enabled: Any) -> Iterator[EngineProcess]:
    """An engine on the real footage that asks a real llama.cpp server (OpenAI API).

    Detection at 2 fps and a generous timeout: on a loaded 2-core machine the
    detector and the LLM share the CPU, and an answer can take minutes."""
    with LlamaServer(tmp_path / "llama.log") as llama:
        config = engine_config(plaza={})
        camera = config["cameras"]["plaza"]
        camera["detect"] = {**camera["detect"], "fps": 2}
        config["risk"] = {"provider": "openai", "openai": {
            "base_url": llama.base_url, "model": "smollm2", "timeout": 240}}
        eng = EngineProcess(tmp_path / "engine", config).start()
        try:
            yield eng
        finally:
            eng.stop()


@pytest.mark.timeout(900)
async def test_blueprint_alert_then_the_llm_assessment_in_place(
        hass: HomeAssistant, config_dir: Path, llm_engine: EngineProcess) -> None:
    """Real events from the footage, a real LLM answer: the phone gets the rules' alert at
    once, then the same notification (same tag) rewritten with the LLM's summary and level
    once the engine has it."""
    engine = llm_engine
    entry, calls = await phone_automation(
        hass, engine, min_level="low", arm_modes=["disarmed", "home", "away", "night",
                                                  "vacation"])

    def by_tag() -> dict[str, list[dict[str, Any]]]:
        sent: dict[str, list[dict[str, Any]]] = {}
        for _, call in calls:
            sent.setdefault(call["data"]["tag"], []).append(call)
        return sent

    # An alerted event the LLM has assessed (one whose answer broke the schema falls back
    # to the rules and is passed over). The engine is asked every 2 s, off HA's loop.
    event: dict[str, Any] | None = None
    passed_over: set[str] = set()
    deadline = time.monotonic() + 720
    while event is None:
        assert time.monotonic() < deadline, "no alert was assessed by the LLM"
        await asyncio.sleep(2)
        for tag in [t for t in by_tag() if t not in passed_over]:
            found = await hass.async_add_executor_job(engine.json, f"/api/events/{tag}")
            status = (found["risk"] or {}).get("status")
            if (found["risk"] or {}).get("provider") == "openai" and status == "final":
                event = found
                break
            if status not in (None, "pending"):
                passed_over.add(tag)
    tag = event["id"]
    risk = event["risk"]

    def shown() -> dict[str, Any] | None:
        """The notification on the phone once it carries the LLM's summary (an escalation
        may follow it with the same text)."""
        last = [c for c in by_tag()[tag] if not c["title"].startswith("Escalated: ")][-1]
        return last if last["message"] == risk["summary"] else None

    update = await wait_until(hass, shown, 60, "the alert rewritten with the LLM's summary")
    alert = by_tag()[tag][0]
    # The fast alert: the rules' sentence, sent before the LLM had answered.
    assert alert["title"].endswith(" risk at Plaza") and "at Plaza" in alert["message"]
    assert alert["message"].endswith(" · AI assessment pending"), alert
    assert alert["data"]["alert_once"] is False
    # The same notification replaced quietly with what the LLM said.
    assert update is not alert
    assert update["title"] == f"{risk['risk_level'].capitalize()} risk at Plaza"
    assert update["data"]["alert_once"] is True
    assert update["data"]["push"]["interruption-level"] in ("passive", "critical")
    assert update["data"]["image"].startswith(
        f"/api/vigil/{entry.entry_id}/snapshot/{tag}.jpg?authSig=")
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
