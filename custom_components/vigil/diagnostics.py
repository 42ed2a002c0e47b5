"""Diagnostics for support requests, with the token redacted."""

from __future__ import annotations

import re
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from . import VigilConfigEntry
from .const import CONF_TOKEN

REDACT = {CONF_TOKEN, "stream_url", "token", "password"}
# Credentials inside any text (an older engine's error messages quote stream URLs).
_CREDENTIALS = re.compile(r"(?i)(://)[^/\s@?#]*@|([?&;](?:user(?:name)?|pass(?:word)?|pwd)=)"
                          r"[^&;\s'\"#]*")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _CREDENTIALS.sub(lambda m: (m.group(1) or m.group(2)) + "**REDACTED**"
                                + ("@" if m.group(1) else ""), value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


async def async_get_config_entry_diagnostics(hass: HomeAssistant,
                                             entry: VigilConfigEntry) -> dict[str, Any]:
    coordinator = entry.runtime_data
    data = coordinator.data
    return _scrub(async_redact_data({
        "entry": {"data": dict(entry.data), "options": dict(entry.options)},
        "engine": {"url": coordinator.client.base_url, "connected": coordinator.client.connected,
                   "info": coordinator.client.info, "version": coordinator.version},
        "cameras": data.cameras,
        "mode": data.mode,
        "stats": {k: v for k, v in data.stats.items() if k != "cameras"},
        "last_events": {cam: {"id": ev.get("id"), "labels": ev.get("labels"),
                              "risk": ev.get("risk")} for cam, ev in data.last_event.items()},
    }, REDACT))
