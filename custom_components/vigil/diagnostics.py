"""Diagnostics for support requests, with the token redacted."""

from __future__ import annotations

from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from . import VigilConfigEntry
from .const import CONF_TOKEN

REDACT = {CONF_TOKEN, "stream_url", "token"}


async def async_get_config_entry_diagnostics(hass: HomeAssistant,
                                             entry: VigilConfigEntry) -> dict[str, Any]:
    coordinator = entry.runtime_data
    data = coordinator.data
    return async_redact_data({
        "entry": {"data": dict(entry.data), "options": dict(entry.options)},
        "engine": {"url": coordinator.client.base_url, "connected": coordinator.client.connected,
                   "info": coordinator.client.info, "version": coordinator.version},
        "cameras": data.cameras,
        "mode": data.mode,
        "stats": {k: v for k, v in data.stats.items() if k != "cameras"},
        "last_events": {cam: {"id": ev.get("id"), "labels": ev.get("labels"),
                              "risk": ev.get("risk")} for cam, ev in data.last_event.items()},
    }, REDACT)
