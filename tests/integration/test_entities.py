"""Devices, entities and their states, pushed from a real engine watching real footage."""

from __future__ import annotations

from typing import Any

from homeassistant.components.camera import async_get_image, async_get_stream_source
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import Event, HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.vigil.const import DOMAIN, EVENT_VIGIL
from tests.support.engine import EngineProcess

from .conftest import wait_until


async def test_devices_and_entities(hass: HomeAssistant, engine: EngineProcess,
                                    loaded_entry: MockConfigEntry) -> None:
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), loaded_entry.entry_id)
    instance = loaded_entry.unique_id
    hub = next(d for d in devices if (DOMAIN, instance) in d.identifiers)
    cam = next(d for d in devices if (DOMAIN, f"{instance}_plaza") in d.identifiers)
    assert cam.via_device_id == hub.id and cam.name == "Plaza"
    # The hub is the engine, named as such (not after its IP address).
    assert hub.sw_version and hub.manufacturer == "Vigil" and hub.name == "Vigil"
    assert hub.serial_number == instance
    ents = {e.entity_id: e for e in er.async_entries_for_config_entry(
        er.async_get(hass), loaded_entry.entry_id)}
    expected = {
        "camera.plaza", "event.plaza_security_event", "sensor.plaza_risk_score",
        "sensor.plaza_risk_level", "sensor.plaza_last_activity", "sensor.plaza_person_count",
        "binary_sensor.plaza_motion", "binary_sensor.plaza_person_occupancy",
        "binary_sensor.plaza_online", "switch.plaza_detection", "switch.plaza_recording",
        "switch.plaza_risk_analysis", "image.plaza_latest_event_snapshot",
        "alarm_control_panel.vigil_arm_mode", "sensor.vigil_llm_state",
        "sensor.vigil_storage_used", "sensor.vigil_events_today",
        "sensor.vigil_inference_speed", "binary_sensor.vigil_connected",
        "calendar.vigil_notable_events",
    }
    assert expected <= set(ents), sorted(set(expected) - set(ents))
    assert all(e.unique_id.startswith(instance) for e in ents.values())
    # Noisy diagnostics are categorised and off by default.
    fps = ents["sensor.plaza_camera_frame_rate"]
    assert fps.entity_category is not None and fps.disabled_by is not None
    assert ents["switch.plaza_detection"].entity_category is not None

    assert hass.states.get("binary_sensor.plaza_online").state == STATE_ON
    assert hass.states.get("binary_sensor.vigil_connected").state == STATE_ON
    assert hass.states.get("alarm_control_panel.vigil_arm_mode").state == "armed_home"
    assert hass.states.get("sensor.vigil_llm_state").state == "rules"
    today = hass.states.get("sensor.vigil_events_today")
    assert int(today.state) >= 2
    # A daily count that restarts at midnight: statistics must treat it as a meter.
    assert today.attributes["state_class"] == "total_increasing"
    assert float(hass.states.get("sensor.vigil_storage_used").state) > 0
    level = hass.states.get("sensor.plaza_risk_level")
    assert level.state in ("low", "medium", "high", "critical")
    assert int(hass.states.get("sensor.plaza_risk_score").state) >= 0
    # The state is the short activity type; the free-text summary is an attribute.
    activity = hass.states.get("sensor.plaza_last_activity")
    assert activity.attributes["labels"] and activity.attributes["summary"]
    assert activity.state != activity.attributes["summary"] and len(activity.state) < 40
    # People walk across the footage: occupancy and counts follow the engine's pushes.
    await wait_until(hass, lambda: hass.states.get("binary_sensor.plaza_person_occupancy").state
                     == STATE_ON, 30, "person occupancy")
    await wait_until(hass, lambda: int(hass.states.get("sensor.plaza_person_count").state) >= 1,
                     30, "a person count")
    await wait_until(hass, lambda: hass.states.get("binary_sensor.plaza_motion").state
                     == STATE_ON, 30, "motion")

    image = await async_get_image(hass, "camera.plaza")
    assert image.content_type == "image/jpeg" and image.content[:2] == b"\xff\xd8"
    assert await async_get_stream_source(hass, "camera.plaza") is None  # a file, not RTSP
    state = hass.states.get("image.plaza_latest_event_snapshot")
    assert state.state not in (STATE_UNAVAILABLE, "unknown")


async def test_event_entity_and_bus_event_fire_from_real_detection(
        hass: HomeAssistant, engine: EngineProcess, loaded_entry: MockConfigEntry) -> None:
    bus: list[Event] = []
    hass.bus.async_listen(EVENT_VIGIL, bus.append)
    before = hass.states.get("event.plaza_security_event").state
    await wait_until(hass, lambda: hass.states.get("event.plaza_security_event").state != before,
                     60, "the event entity to fire")
    fired = hass.states.get("event.plaza_security_event")
    assert fired.attributes["event_type"] in ("low", "medium", "high", "critical")
    assert fired.attributes["event_id"] and fired.attributes["summary"]
    assert "person" in fired.attributes["labels"]
    assert fired.attributes["provider"] == "rules"
    await wait_until(hass, lambda: any(e.data["action"] == "new" for e in bus), 60,
                     "an event to open on the bus")
    data: dict[str, Any] = next(e.data for e in bus if e.data["action"] == "new")
    assert data["camera"] == "plaza" and data["risk"]["risk_level"]
    assert data["engine"] == loaded_entry.unique_id and data["end_time"] is None
    assert data["entry_id"] == loaded_entry.entry_id and "escalation" in data
    await wait_until(hass, lambda: any(e.data["action"] == "end" and e.data["id"]
                                       == data["id"] for e in bus), 60,
                     "the same event to close on the bus")
    # Only changes that matter reach the bus, not every flush of an open event:
    # per event one "new", one "end", and "assessed"/"escalate" only when they change.
    mine = [e.data["action"] for e in bus if e.data["id"] == data["id"]]
    assert mine.count("new") == 1 and mine.count("end") == 1, mine
    assert set(mine) <= {"new", "assessed", "escalate", "end"}, mine


async def test_switches_and_arm_mode_change_the_engine(
        hass: HomeAssistant, engine: EngineProcess, loaded_entry: MockConfigEntry) -> None:
    for entity_id, key in (("switch.plaza_detection", "detect"),
                           ("switch.plaza_recording", "record"),
                           ("switch.plaza_risk_analysis", "risk")):
        assert hass.states.get(entity_id).state == STATE_ON
        await hass.services.async_call("switch", "turn_off", {"entity_id": entity_id},
                                       blocking=True)
        assert hass.states.get(entity_id).state == STATE_OFF
        assert engine.camera("plaza")["switches"][key] is False
        await hass.services.async_call("switch", "turn_on", {"entity_id": entity_id},
                                       blocking=True)
        assert engine.camera("plaza")["switches"][key] is True
    panel = "alarm_control_panel.vigil_arm_mode"
    try:
        for service, state, mode in (("alarm_arm_away", "armed_away", "away"),
                                     ("alarm_arm_night", "armed_night", "night"),
                                     ("alarm_arm_vacation", "armed_vacation", "vacation"),
                                     ("alarm_disarm", "disarmed", "disarmed"),
                                     ("alarm_arm_home", "armed_home", "home")):
            await hass.services.async_call("alarm_control_panel", service,
                                           {"entity_id": panel}, blocking=True)
            assert hass.states.get(panel).state == state
            assert engine.json("/api/mode")["mode"] == mode
        # A change made elsewhere (another client) is pushed back to HA at once.
        engine.request("/api/mode", method="POST", data=b'{"mode": "night"}',
                       headers={"Content-Type": "application/json"})
        await wait_until(hass, lambda: hass.states.get(panel).state == "armed_night", 10,
                         "the arm mode push")
    finally:
        engine.request("/api/mode", method="POST", data=b'{"mode": "home"}',
                       headers={"Content-Type": "application/json"})
    await wait_until(hass, lambda: hass.states.get(panel).state == "armed_home", 10,
                     "the arm mode push back to home")


async def test_unload_and_reload_are_clean(hass: HomeAssistant, engine: EngineProcess,
                                           loaded_entry: MockConfigEntry) -> None:
    assert await hass.config_entries.async_reload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("camera.plaza").state != STATE_UNAVAILABLE
    assert await hass.config_entries.async_unload(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("camera.plaza").state == STATE_UNAVAILABLE
    assert loaded_entry.state.name == "NOT_LOADED"
    assert await hass.config_entries.async_setup(loaded_entry.entry_id)
    await hass.async_block_till_done()
    assert hass.states.get("camera.plaza").state != STATE_UNAVAILABLE
