"""Config flow against a real engine: success, each error, discovery, reauth,
reconfigure, options, one entry per engine."""

from __future__ import annotations

from typing import Any

import pytest
from homeassistant.config_entries import SOURCE_HASSIO, SOURCE_USER
from homeassistant.const import CONF_HOST, CONF_PORT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.hassio import HassioServiceInfo

from custom_components.vigil.const import CONF_CAMERAS, CONF_SNAPSHOT_HEIGHT, CONF_TOKEN, DOMAIN
from tests.support.engine import EngineProcess, free_port

from .conftest import entry_for


def user_input(engine: EngineProcess, **over: Any) -> dict[str, Any]:
    return {CONF_HOST: "127.0.0.1", CONF_PORT: engine.port, CONF_TOKEN: engine.token, **over}


async def test_user_flow_creates_one_entry_per_engine(hass: HomeAssistant,
                                                      engine: EngineProcess) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "user"
    result = await hass.config_entries.flow.async_configure(result["flow_id"],
                                                            user_input(engine))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.unique_id == engine.json("/api/health")["instance_id"]
    assert entry.data[CONF_TOKEN] == engine.token
    # The same engine again: refused as already configured.
    again = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    again = await hass.config_entries.flow.async_configure(again["flow_id"], user_input(engine))
    assert again["type"] is FlowResultType.ABORT and again["reason"] == "already_configured"
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


@pytest.mark.parametrize(("over", "error"), [
    ({CONF_TOKEN: "not-the-token-000000"}, "invalid_auth"),
    ({CONF_PORT: None}, "cannot_connect"),
])
async def test_user_flow_errors(hass: HomeAssistant, engine: EngineProcess,
                                over: dict[str, Any], error: str) -> None:
    if over.get(CONF_PORT, 1) is None:
        over = {CONF_PORT: free_port()}  # nothing listens there: the engine is "down"
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"],
                                                            user_input(engine, **over))
    assert result["type"] is FlowResultType.FORM and result["errors"] == {"base": error}
    # The user fixes it and the same flow succeeds.
    result = await hass.config_entries.flow.async_configure(result["flow_id"],
                                                            user_input(engine))
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.config_entries.async_unload(result["result"].entry_id)
    await hass.async_block_till_done()


async def test_unsupported_protocol_is_reported(hass: HomeAssistant, engine: EngineProcess,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # This integration expecting protocol 2 plays an engine older than the integration.
    monkeypatch.setattr("custom_components.vigil.client.PROTOCOL_VERSION", 2)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    result = await hass.config_entries.flow.async_configure(result["flow_id"],
                                                            user_input(engine))
    assert result["errors"] == {"base": "unsupported_version"}


async def test_supervisor_discovery_with_confirm(hass: HomeAssistant,
                                                 engine: EngineProcess) -> None:
    info = HassioServiceInfo(config={"host": "127.0.0.1", "port": engine.port,
                                     "token": engine.token},
                             name="Vigil", slug="vigil", uuid="1234")
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_HASSIO},
                                                       data=info)
    assert result["type"] is FlowResultType.FORM and result["step_id"] == "hassio_confirm"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.data == {CONF_HOST: "127.0.0.1", CONF_PORT: engine.port,
                          CONF_TOKEN: engine.token}
    # Discovered again (e.g. after an app restart): no second entry.
    again = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_HASSIO},
                                                      data=info)
    assert again["type"] is FlowResultType.ABORT and again["reason"] == "already_configured"
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_discovery_of_an_unreachable_app_aborts(hass: HomeAssistant) -> None:
    info = HassioServiceInfo(config={"host": "127.0.0.1", "port": free_port(),
                                     "token": "x" * 32}, name="Vigil", slug="vigil", uuid="1")
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_HASSIO},
                                                       data=info)
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "cannot_connect"


async def test_wrong_token_at_setup_starts_reauth(hass: HomeAssistant,
                                                  engine: EngineProcess) -> None:
    entry = entry_for(engine)
    entry.add_to_hass(hass)
    hass.config_entries.async_update_entry(entry, data={**entry.data,
                                                        CONF_TOKEN: "old-token-0000000000"})
    assert not await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert flows and flows[0]["context"]["source"] == "reauth"
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], {CONF_TOKEN: "still-wrong-000000000"})
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(flows[0]["flow_id"],
                                                            {CONF_TOKEN: engine.token})
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_TOKEN] == engine.token
    assert entry.state.name == "LOADED"
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()


async def test_reconfigure_and_options(hass: HomeAssistant, engine: EngineProcess) -> None:
    entry = entry_for(engine)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    result = await entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input(engine, **{CONF_PORT: free_port()}))
    assert result["errors"] == {"base": "cannot_connect"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input(engine, **{CONF_HOST: "localhost"}))
    assert result["type"] is FlowResultType.ABORT and result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert entry.data[CONF_HOST] == "localhost"

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {CONF_CAMERAS: [], CONF_SNAPSHOT_HEIGHT: 360})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    assert entry.options == {CONF_CAMERAS: [], CONF_SNAPSHOT_HEIGHT: 360}
    # No camera exposed: the camera's entities are gone after the reload.
    assert hass.states.get("camera.plaza") is None
    await hass.config_entries.async_unload(entry.entry_id)
    await hass.async_block_till_done()
