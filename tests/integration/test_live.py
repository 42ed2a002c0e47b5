"""Live behaviour against a real engine: escalation, the calendar and the Assist tool,
stats on their own schedule, a push handler that fails, events missed during an
outage, a token changed at runtime, and a log free of Vigil warnings."""

from __future__ import annotations

import logging
import signal
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from homeassistant.components.calendar import DOMAIN as CALENDAR_DOMAIN
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import llm
from homeassistant.util import dt as dt_util
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.vigil.const import CONF_CAMERAS, DOMAIN, EVENT_VIGIL, RISK_LEVELS
from tests.support.engine import EngineProcess

from .conftest import engine_config, entry_for, vigil_warnings, wait_until

PANEL = "alarm_control_panel.vigil_arm_mode"


def _set_engine_mode(engine: EngineProcess, mode: str) -> None:
    engine.request("/api/mode", method="POST", data=f'{{"mode": "{mode}"}}'.encode(),
                   headers={"Content-Type": "application/json"})


async def test_escalation_reaches_bus_event_entity_and_calendar(
        hass: HomeAssistant, engine: EngineProcess, loaded_entry: MockConfigEntry) -> None:
    """Arming 'away' and rescoring makes the rules engine rate people higher: the open
    or rescored event escalates, HA announces it once, the event entity fires again."""
    bus: list[Event] = []
    hass.bus.async_listen(EVENT_VIGIL, bus.append)
    fired: list[dict[str, Any]] = []

    def on_state(event: Event) -> None:
        if event.data["entity_id"] == "event.plaza_security_event" and event.data["new_state"]:
            fired.append(dict(event.data["new_state"].attributes))

    hass.bus.async_listen("state_changed", on_state)
    coordinator = loaded_entry.runtime_data
    known = coordinator.data.last_event["plaza"]
    try:
        await hass.services.async_call("alarm_control_panel", "alarm_arm_away",
                                       {"entity_id": PANEL}, blocking=True)
        await hass.services.async_call(DOMAIN, "rescore_event", {"event_id": known["id"]},
                                       blocking=True)
        escalations = await wait_until(
            hass, lambda: [e.data for e in bus if e.data["action"] == "escalate"], 60,
            "an escalation on the bus")
        esc = escalations[0]
        assert esc["previous_level"] in RISK_LEVELS
        # An escalation is a higher level, or the alert raised at the same level.
        assert RISK_LEVELS.index(esc["risk"]["risk_level"]) > \
            RISK_LEVELS.index(esc["previous_level"]) or esc["alert"]
        assert {"id", "camera", "labels", "zones", "start_time", "end_time", "alert", "risk",
                "escalation", "engine", "entry_id"} <= set(esc)
        await wait_until(hass, lambda: any(a.get("action") == "escalate"
                                           and a.get("event_id") == esc["id"] for a in fired),
                         20, "the event entity to fire the escalation")
        again = next(a for a in fired if a.get("action") == "escalate"
                     and a.get("event_id") == esc["id"])
        assert RISK_LEVELS.index(again["event_type"]) > \
            RISK_LEVELS.index(again["previous_level"]) or again["alert"]
        # The same change pushed twice (update + escalate) is announced once.
        assert sum(e.data["action"] == "escalate" and e.data["id"] == esc["id"]
                   for e in bus) == 1

        # The calendar lists notable events (medium and up) straight from the engine.
        now = dt_util.utcnow()
        answer = await hass.services.async_call(
            CALENDAR_DOMAIN, "get_events",
            {"entity_id": "calendar.vigil_notable_events",
             "start_date_time": now - timedelta(hours=2), "end_date_time": now
             + timedelta(minutes=5)}, blocking=True, return_response=True)
        items = answer["calendar.vigil_notable_events"]["events"]
        assert any("Plaza" in i["summary"] and esc["risk"]["risk_level"] in i["summary"]
                   for i in items), items
        assert all("Risk: low" not in (i.get("description") or "") for i in items)

        # Assist: "what happened at the plaza today?" answered from Vigil's events.
        api = await llm.async_get_api(hass, DOMAIN, llm.LLMContext(
            platform="test", context=None, language="en", assistant="conversation",
            device_id=None, **({"user_prompt": "what happened?"} if "user_prompt" in
                               llm.LLMContext.__dataclass_fields__ else {})))
        tool = next(t for t in api.tools if t.name == "vigil_events")

        async def ask(**args: Any) -> Any:
            return await tool.async_call(hass, llm.ToolInput(tool_name=tool.name,
                                                             tool_args=args), api.llm_context)

        result = await ask(camera="the Plaza", period="today")
        assert result["count"] >= 1 and result["events"][0]["camera"] == "plaza"
        assert any(e["risk_level"] == esc["risk"]["risk_level"] and e["summary"]
                   for e in result["events"])
        wrong = await ask(camera="back door")
        assert "No camera" in wrong["error"] and wrong["cameras"] == ["plaza"]
    finally:
        _set_engine_mode(engine, "home")
    await wait_until(hass, lambda: hass.states.get(PANEL).state == "armed_home", 10,
                     "the mode back to home")


async def test_stats_refresh_on_their_own_schedule(
        hass: HomeAssistant, engine: EngineProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """Camera pushes arrive every second; the stats must refresh anyway (they used to
    freeze because every push reset the refresh timer)."""
    monkeypatch.setattr("custom_components.vigil.coordinator.STATS_INTERVAL", 2.0)
    entry = entry_for(engine)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    first = hass.states.get("sensor.vigil_storage_used").state
    # Recording keeps writing segments: the storage figure moves within seconds.
    await wait_until(hass, lambda: hass.states.get("sensor.vigil_storage_used").state
                     != first, 40, "the storage figure to refresh")
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_a_failing_push_handler_keeps_the_connection(
        hass: HomeAssistant, engine: EngineProcess, loaded_entry: MockConfigEntry,
        caplog: pytest.LogCaptureFixture) -> None:
    coordinator = loaded_entry.runtime_data
    client = coordinator.client
    calls = 0
    original = client._subscriptions["cameras"]

    def broken(push: dict[str, Any]) -> None:
        nonlocal calls
        calls += 1
        raise RuntimeError("handler bug")

    client._subscriptions["cameras"] = (original[0], broken)
    await wait_until(hass, lambda: calls >= 2, 30, "two pushes to reach the broken handler")
    assert client.connected and "handler bug" in caplog.text
    client._subscriptions["cameras"] = original
    # Commands and pushes still flow on the same connection.
    assert await client.command("ping") == "pong"
    before = hass.states.get("sensor.plaza_person_count").last_updated
    await wait_until(hass, lambda: hass.states.get("sensor.plaza_person_count").last_updated
                     != before or hass.states.get("binary_sensor.plaza_motion").last_updated
                     > before, 30, "pushes to be applied again")


async def test_outage_catch_up_then_token_change_starts_reauth(
        hass: HomeAssistant, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        hass_client: ClientSessionGenerator) -> None:
    """Diagnostics hold no camera credential; events that open and close while HA is
    disconnected are announced after the reconnect; a token changed on the engine asks
    the user for the new one."""
    monkeypatch.setattr("custom_components.vigil.client.BACKOFF_START", 15.0)
    monkeypatch.setattr("custom_components.vigil.client.BACKOFF_CAP", 15.0)
    config = engine_config(gate={})
    # A second camera whose stream needs a password and cannot be reached.
    config["cameras"]["door"] = {"inputs": [{"url": "rtsp://admin:hunter2secret@127.0.0.1:9/x",
                                             "roles": ["detect"]}]}
    config["api"]["token"] = "first-token-0123456789"
    engine = EngineProcess(tmp_path / "engine", config).start()
    try:
        entry = entry_for(engine)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        await wait_until(hass, lambda: (s := hass.states.get("binary_sensor.door_online"))
                         and s.state == "off", 30, "the unreachable camera to be offline")
        diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        assert "hunter2secret" not in str(diag) and "first-token" not in str(diag)
        assert "door" in diag["cameras"]

        bus: list[Event] = []
        hass.bus.async_listen(EVENT_VIGIL, bus.append)

        engine.stop(signal.SIGKILL)
        await wait_until(hass, lambda: hass.states.get("binary_sensor.vigil_connected").state
                         == "off", 30, "HA to notice the outage")
        restarted = time.time()
        engine.start()  # HA retries only after its 15 s back-off
        engine.wait_for(lambda: any(e["end_time"] and e["start_time"] >= restarted
                                    for e in engine.all_events()), 60,
                        what="an event opened and closed during the outage")
        missed = [e for e in engine.all_events() if e["end_time"]
                  and e["start_time"] >= restarted]
        await wait_until(hass, lambda: hass.states.get("binary_sensor.vigil_connected").state
                         == "on", 60, "the reconnect")
        for ev in missed:
            await wait_until(hass, lambda ev=ev: {"new", "end"} <= {
                e.data["action"] for e in bus if e.data["id"] == ev["id"]}, 20,
                f"event {ev['id']} caught up; bus had "
                f"{[(e.data['id'], e.data['action']) for e in bus]}")
        newest = max(engine.all_events(), key=lambda e: e["start_time"])
        await wait_until(hass, lambda: loaded_last(entry)["start_time"]
                         >= newest["start_time"], 20, "the last event to be current")

        # The token changes while HA runs: the entry asks for reauthentication.
        engine.stop()
        engine.config["api"]["token"] = "second-token-9876543210"
        engine.start()
        await wait_until(hass, lambda: any(
            f["context"]["source"] == SOURCE_REAUTH
            for f in hass.config_entries.flow.async_progress_by_handler(DOMAIN)), 60,
            "a reauth flow")
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    finally:
        engine.stop()


def loaded_last(entry: MockConfigEntry) -> dict[str, Any]:
    return entry.runtime_data.data.last_event.get("gate") or {"start_time": 0}


async def test_home_assistant_logs_no_vigil_warnings(
        hass: HomeAssistant, engine: EngineProcess, caplog: pytest.LogCaptureFixture) -> None:
    """Setup, options (which reload the entry), reload, device clean-up and unload: HA
    reports no deprecated call and the integration no problem, on old and new HA."""
    caplog.set_level(logging.WARNING)
    entry = entry_for(engine)
    entry.add_to_hass(hass)
    # An installation from before the alarm panel still has the arm-mode select.
    old_select = er.async_get(hass).async_get_or_create(
        "select", DOMAIN, f"{entry.unique_id}_arm_mode", config_entry=entry).entity_id
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert er.async_get(hass).async_get(old_select) is None
    assert hass.states.get(PANEL).state == "armed_home"
    flow = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        flow["flow_id"], {CONF_CAMERAS: [], "snapshot_height": 480})
    assert result["type"] == "create_entry"
    await hass.async_block_till_done()
    # The options took effect through a reload: the hidden camera lost its device
    # (and showing it again must not collide with its old entities).
    assert hass.states.get("camera.plaza") is None or \
        hass.states.get("camera.plaza").state == "unavailable"
    flow = await hass.config_entries.options.async_init(entry.entry_id)
    await hass.config_entries.options.async_configure(
        flow["flow_id"], {CONF_CAMERAS: ["plaza"], "snapshot_height": 480})
    await hass.async_block_till_done()
    await wait_until(hass, lambda: (s := hass.states.get("camera.plaza")) is not None
                     and s.state != "unavailable", 20, "the camera back after the options")
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
    assert vigil_warnings(caplog.records) == []


async def test_a_push_between_options_and_reload_adds_nothing_twice(
        hass: HomeAssistant, engine: EngineProcess, caplog: pytest.LogCaptureFixture) -> None:
    """The engine pushes all the time: one arriving after the options show a hidden
    camera but before the reload must not add its entities to the old load (the reload
    would add them again: 'does not generate unique IDs', a camera shown twice)."""
    caplog.set_level(logging.WARNING)
    entry = entry_for(engine, **{CONF_CAMERAS: ["gate"]})
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("camera.plaza") is None
    old = entry.runtime_data
    hass.config_entries.async_update_entry(entry, options={CONF_CAMERAS: ["gate", "plaza"]})
    old.async_update_listeners()  # a push lands before the reload has run
    await hass.async_block_till_done()
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    await wait_until(hass, lambda: (s := hass.states.get("camera.plaza")) is not None
                     and s.state != "unavailable", 20, "the shown camera")
    assert vigil_warnings(caplog.records) == []
    assert await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_snapshot_image_follows_a_better_frame_of_the_same_event(
        hass: HomeAssistant, engine: EngineProcess, loaded_entry: MockConfigEntry) -> None:
    """While an event is open the engine rewrites its snapshot when it sees a better
    frame; the image entity moves on to it without waiting for the next event."""
    seen: dict[str, set[str]] = {}

    def record() -> bool:
        state = hass.states.get("image.plaza_latest_event_snapshot")
        event = loaded_entry.runtime_data.data.last_event.get("plaza") or {}
        if state is not None and event.get("id"):
            seen.setdefault(event["id"], set()).add(state.state)
        return any(len(states) >= 2 for states in seen.values())

    # A snapshot is rewritten only for a view 10 % better, and the footage's events last at
    # most 8 s: some minutes none is; 90 s timed out once in four runs.
    await wait_until(hass, record, 150, "a second picture of one event")
