"""A Frigate camera becomes a Home Assistant device with its entities (a real engine
listening to a real broker and a Frigate peer), plus a health sensor per Frigate server."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import pytest_socket
from homeassistant.components.camera import async_get_image
from homeassistant.const import STATE_ON
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er

from custom_components.vigil.const import DOMAIN
from tests.support.engine import EngineProcess
from tests.support.frigate import FrigatePeer, tracked_object
from tests.support.mosquitto import Mosquitto

from .conftest import entry_for, wait_until

ROOT = Path(__file__).resolve().parents[2]
FOOTAGE = Path(os.environ.get("VIGIL_FOOTAGE_DIR", ROOT / "var" / "footage")) / "vtest.mp4"


@pytest.fixture(scope="module")
def frigate_peer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FrigatePeer]:
    pytest_socket.enable_socket()
    tmp = tmp_path_factory.mktemp("frigate-ha")
    with Mosquitto(tmp / "mqtt") as broker:
        peer = FrigatePeer(FOOTAGE, broker.port).start()
        try:
            yield peer
        finally:
            peer.stop()


@pytest.fixture(scope="module")
def frigate_engine(tmp_path_factory: pytest.TempPathFactory,
                   frigate_peer: FrigatePeer) -> Iterator[EngineProcess]:
    peer = frigate_peer
    eng = EngineProcess(tmp_path_factory.mktemp("frigate-ha-engine"), {
        "api": {"failed_auth_limit": 100000},
        "frigate": [{"name": "nvr", "frigate_url": peer.url, "mqtt_host": "127.0.0.1",
                     "mqtt_port": peer.mqtt_port, "cameras": ["front_door"]}],
        "mqtt": {"enabled": False},
    }).start()
    eng.wait_for(lambda: eng.json("/api/health")["frigate"]["nvr"]["reachable"], 20,
                 what="Frigate reachable")
    yield eng
    eng.stop()


async def test_frigate_camera_is_a_device_with_entities(
        hass: HomeAssistant, frigate_engine: EngineProcess, frigate_peer: FrigatePeer) -> None:
    entry = entry_for(frigate_engine)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    try:
        instance = entry.unique_id
        devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
        hub = next(d for d in devices if (DOMAIN, instance) in d.identifiers)
        cam = next(d for d in devices if (DOMAIN, f"{instance}_front_door") in d.identifiers)
        assert cam.via_device_id == hub.id and cam.name == "Front Door"
        ents = {e.entity_id: e for e in er.async_entries_for_config_entry(
            er.async_get(hass), entry.entry_id)}
        expected = {"camera.front_door", "event.front_door_security_event",
                    "sensor.front_door_risk_score", "sensor.front_door_risk_level",
                    "image.front_door_latest_event_snapshot",
                    "binary_sensor.vigil_frigate_nvr_connected"}
        assert expected <= set(ents), sorted(expected - set(ents))
        assert not any(e.startswith("switch.front_door") for e in ents), \
            "Frigate's cameras are switched in Frigate"
        # The camera's picture is Frigate's latest.jpg, through the engine.
        image = await async_get_image(hass, "camera.front_door")
        assert image.content[:2] == b"\xff\xd8"
        health = hass.states.get("binary_sensor.vigil_frigate_nvr_connected")
        assert health.state == STATE_ON
        assert health.attributes["version"] and health.attributes["gave_up"] is False
        # Frigate says "new": the camera's event entity fires with the risk level at once.
        before = hass.states.get("event.front_door_security_event").state
        obj = tracked_object("front_door")
        await hass.async_add_executor_job(frigate_peer.event, "new", obj)
        await wait_until(hass, lambda: hass.states.get("event.front_door_security_event").state
                         != before, 20, "the event entity to fire")
        fired = hass.states.get("event.front_door_security_event")
        assert fired.attributes["event_type"] in ("low", "medium", "high", "critical")
        assert hass.states.get("sensor.front_door_risk_level").state == \
            fired.attributes["event_type"]
    finally:
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
