"""Diagnostics for support requests: no token or camera credential in any field.

Keys known to hold secrets are redacted whole; every other string is scrubbed of
URL credentials (``rtsp://user:pass@cam``, also inside error texts) and of the
engine token wherever it appears.
"""

from __future__ import annotations

import re
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from . import VigilConfigEntry
from .const import CONF_TOKEN

REDACT = {CONF_TOKEN, "stream_url", "token", "password", "username", "url_with_credentials"}
REDACTED = "**REDACTED**"
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@'\"]+@")
_QUERY_SECRETS = re.compile(r"(?i)\b(password|passwd|pass|pwd|token|user|username|auth)=[^&\s'\"]+")


def scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    """Every string in a nested structure, with credentials taken out."""
    if isinstance(value, str):
        text = _URL_CREDENTIALS.sub(rf"\g<scheme>{REDACTED}@", value)
        text = _QUERY_SECRETS.sub(rf"\1={REDACTED}", text)
        for secret in secrets:
            text = text.replace(secret, REDACTED)
        return text
    if isinstance(value, dict):
        return {k: scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [scrub(v, secrets) for v in value]
    return value


async def async_get_config_entry_diagnostics(hass: HomeAssistant,
                                             entry: VigilConfigEntry) -> dict[str, Any]:
    coordinator = entry.runtime_data
    data = coordinator.data
    secrets = tuple(s for s in (entry.data.get(CONF_TOKEN), coordinator.client.token)
                    if isinstance(s, str) and len(s) >= 4)
    return scrub(async_redact_data({
        "entry": {"data": dict(entry.data), "options": dict(entry.options)},
        "engine": {"url": coordinator.client.base_url, "connected": coordinator.client.connected,
                   "info": coordinator.client.info, "version": coordinator.version},
        "cameras": data.cameras,
        "mode": data.mode,
        "stats": data.stats,
        "last_events": {cam: {"id": ev.get("id"), "labels": ev.get("labels"),
                              "risk": ev.get("risk"), "escalation": ev.get("escalation")}
                        for cam, ev in data.last_event.items()},
    }, REDACT), secrets)
