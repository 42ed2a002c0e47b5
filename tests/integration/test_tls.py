"""An engine serving HTTPS (api.tls with a self-signed certificate made by openssl):
the config flow needs "Use HTTPS", refuses an untrusted certificate while "Verify the
certificate" is on, and the entry then works over TLS."""

from __future__ import annotations

from pathlib import Path

from homeassistant.config_entries import SOURCE_USER
from homeassistant.const import CONF_HOST, CONF_PORT, CONF_SSL, CONF_VERIFY_SSL
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType

from custom_components.vigil.const import CONF_TOKEN, DOMAIN
from tests.support.engine import EngineProcess, free_port
from tests.support.tls import make_cert


async def test_config_flow_over_https(hass: HomeAssistant, tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    engine = EngineProcess(tmp_path, {
        "api": {"failed_auth_limit": 100000, "tls": {"cert": str(cert), "key": str(key)}},
        "cameras": {"gate": {"inputs": [{"url": f"rtsp://127.0.0.1:{free_port()}/x",
                                         "roles": ["detect"]}]}}}).start()
    try:
        base = {CONF_HOST: "127.0.0.1", CONF_PORT: engine.port, CONF_TOKEN: engine.token}
        flow = await hass.config_entries.flow.async_init(DOMAIN, context={"source": SOURCE_USER})
        steps = [({**base, CONF_SSL: False}, "cannot_connect"),  # no clear-text fallback
                 ({**base, CONF_SSL: True, CONF_VERIFY_SSL: True}, "cannot_connect")]
        for data, error in steps:
            flow = await hass.config_entries.flow.async_configure(flow["flow_id"], data)
            assert flow["type"] is FlowResultType.FORM and flow["errors"] == {"base": error}
        # The user trusts their own self-signed certificate.
        flow = await hass.config_entries.flow.async_configure(
            flow["flow_id"], {**base, CONF_SSL: True, CONF_VERIFY_SSL: False})
        assert flow["type"] is FlowResultType.CREATE_ENTRY
        entry = flow["result"]
        assert entry.data[CONF_SSL] is True and entry.data[CONF_VERIFY_SSL] is False
        await hass.async_block_till_done()
        assert entry.runtime_data.client.base_url.startswith("https://")
        assert entry.runtime_data.client.connected
        assert hass.states.get("binary_sensor.gate_online") is not None
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    finally:
        engine.stop()
