"""Camera passwords stay out of Home Assistant's diagnostics and state, while the live view
still gets the real stream URL through the engine's dedicated command."""

from __future__ import annotations

import json
from pathlib import Path

from homeassistant.components.camera import async_get_stream_source
from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from tests.support.engine import EngineProcess, free_port

from .conftest import entry_for

PASSWORD = "S3cretPass1"
QUERY_PASSWORD = "Hunter2Secret"


async def test_diagnostics_and_states_hold_no_camera_password(
        hass: HomeAssistant, tmp_path: Path, hass_client: ClientSessionGenerator) -> None:
    closed = free_port()
    door = f"rtsp://alice:{PASSWORD}@127.0.0.1:{closed}/stream1"
    yard = f"rtsp://127.0.0.1:{closed}/live?user=bob&password={QUERY_PASSWORD}"
    engine = EngineProcess(tmp_path, {
        "api": {"failed_auth_limit": 100000},
        "cameras": {"door": {"inputs": [{"url": door, "roles": ["detect"]}]},
                    "yard": {"inputs": [{"url": yard, "roles": ["detect"]}]}},
    }).start()
    try:
        engine.wait_for(lambda: all(c["error"] for c in engine.json("/api/cameras")["cameras"]),
                        60, what="connection errors")
        entry = entry_for(engine)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()

        diag = await get_diagnostics_for_config_entry(hass, hass_client, entry)
        text = json.dumps(diag, default=str)
        assert "door" in diag["cameras"] and diag["cameras"]["door"].get("error")
        states = json.dumps([s.as_dict() for s in hass.states.async_all()], default=str)
        for secret in (PASSWORD, QUERY_PASSWORD, engine.token):
            assert secret not in text, f"{secret} in diagnostics"
            assert secret not in states, f"{secret} in entity states"

        # The live view still works: the stream source is the real URL, fetched on demand.
        assert await async_get_stream_source(hass, "camera.door") == door
        assert await async_get_stream_source(hass, "camera.yard") == yard
        await hass.config_entries.async_unload(entry.entry_id)
    finally:
        engine.stop()
