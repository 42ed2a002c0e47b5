"""A Companion-app phone for HA tests: its device and the notify service the app registers.

The service records every call (with the wall-clock time it arrived) instead of pushing
to a phone, which cannot exist here. Only importable in HA's test virtualenv.
"""

from __future__ import annotations

import time
from typing import Any

from homeassistant.core import HomeAssistant, ServiceCall
from homeassistant.helpers import device_registry as dr
from pytest_homeassistant_custom_component.common import MockConfigEntry


def add_phone(hass: HomeAssistant, name: str = "Test phone"
              ) -> tuple[str, list[tuple[float, dict[str, Any]]]]:
    """Register a mobile_app device and ``notify.mobile_app_<name>``; (device id, calls)."""
    app_entry = MockConfigEntry(domain="mobile_app", title=name)
    app_entry.add_to_hass(hass)
    device = dr.async_get(hass).async_get_or_create(
        config_entry_id=app_entry.entry_id, identifiers={("mobile_app", name)},
        name=name, manufacturer="Google", model="Pixel")
    calls: list[tuple[float, dict[str, Any]]] = []

    async def record(call: ServiceCall) -> None:
        calls.append((time.time(), dict(call.data)))

    service = "mobile_app_" + name.lower().replace(" ", "_")
    hass.services.async_register("notify", service, record)
    return device.id, calls
