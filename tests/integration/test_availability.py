"""Engine killed -> entities unavailable (logged once) and a repair issue; engine back ->
available again. Diagnostics never leak the token."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from homeassistant.const import STATE_OFF, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.vigil.const import DOMAIN
from tests.support.engine import EngineProcess

from .conftest import engine_config, entry_for, wait_until


async def test_engine_killed_and_restarted(hass: HomeAssistant, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr("custom_components.vigil.coordinator.UNREACHABLE_REPAIR_AFTER", 2.0)
    monkeypatch.setattr("custom_components.vigil.client.BACKOFF_CAP", 1.0)
    engine = EngineProcess(tmp_path, engine_config(gate={})).start()
    try:
        entry = entry_for(engine)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        assert hass.states.get("binary_sensor.gate_online").state != STATE_UNAVAILABLE

        engine.stop(signal.SIGKILL)
        await wait_until(hass, lambda: hass.states.get("binary_sensor.gate_online").state
                         == STATE_UNAVAILABLE, 30, "entities to become unavailable")
        assert hass.states.get("camera.gate").state == STATE_UNAVAILABLE
        assert hass.states.get("binary_sensor.vigil_connected").state == STATE_OFF
        await wait_until(hass, lambda: ir.async_get(hass).async_get_issue(
            DOMAIN, f"unreachable_{entry.entry_id}"), 20, "the repair issue")
        assert caplog.text.count("is unreachable") == 1  # said once, not every retry

        engine.start()  # same port, same data
        await wait_until(hass, lambda: hass.states.get("binary_sensor.gate_online").state
                         not in (STATE_UNAVAILABLE,), 60, "entities to come back")
        assert hass.states.get("binary_sensor.vigil_connected").state == "on"
        assert ir.async_get(hass).async_get_issue(DOMAIN, f"unreachable_{entry.entry_id}") \
            is None
        assert "reachable again" in caplog.text
        # Pushes flow again after the reconnect (subscriptions were renewed).
        await wait_until(hass, lambda: int(hass.states.get("sensor.gate_person_count").state)
                         >= 1, 60, "a pushed person count")
        assert await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    finally:
        engine.stop()


async def test_setup_retries_while_the_engine_is_down(hass: HomeAssistant,
                                                      engine: EngineProcess) -> None:
    entry = entry_for(engine)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data={**entry.data, "port": 1})
    assert not await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state.name == "SETUP_RETRY"


async def test_diagnostics_redact_the_token(hass: HomeAssistant, engine: EngineProcess,
                                            loaded_entry: MockConfigEntry,
                                            hass_client: ClientSessionGenerator) -> None:
    diag = await get_diagnostics_for_config_entry(hass, hass_client, loaded_entry)
    text = str(diag)
    assert engine.token not in text
    assert diag["entry"]["data"]["token"] == "**REDACTED**"
    assert diag["engine"]["connected"] is True and "plaza" in diag["cameras"]
