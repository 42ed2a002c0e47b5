"""Vigil: AI security events, cameras and media from Vigil engines."""

from __future__ import annotations

import logging

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import (
    CONF_HOST,
    CONF_PORT,
    CONF_SSL,
    CONF_VERIFY_SSL,
    EVENT_HOMEASSISTANT_STOP,
    Platform,
)
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.exceptions import ConfigEntryAuthFailed, ConfigEntryError, ConfigEntryNotReady
from homeassistant.helpers import config_validation as cv
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.typing import ConfigType

from .blueprints import async_install_blueprints
from .card import async_register_card
from .client import CannotConnect, InvalidAuth, UnsupportedVersion, VigilClient
from .config_flow import HAS_OPTIONS_FLOW_WITH_RELOAD
from .const import CONF_TOKEN, DOMAIN
from .coordinator import VigilCoordinator
from .entity import camera_device_id, exposed_cameras, hub_device
from .llm_api import async_setup_llm_api
from .notifications import async_setup_notifications
from .services import async_setup_services
from .views import async_setup_views
from .websocket_api import async_setup_websocket_api

_LOGGER = logging.getLogger(__name__)

PLATFORMS: list[Platform] = [
    Platform.ALARM_CONTROL_PANEL, Platform.BINARY_SENSOR, Platform.CALENDAR, Platform.CAMERA,
    Platform.EVENT, Platform.IMAGE, Platform.SENSOR, Platform.SWITCH,
]
CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)

type VigilConfigEntry = ConfigEntry[VigilCoordinator]


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Services, the media view, the card and the blueprint exist once, for every engine."""
    async_setup_services(hass)
    async_setup_views(hass)
    async_setup_llm_api(hass)
    await async_setup_notifications(hass)
    async_setup_websocket_api(hass)
    await async_register_card(hass)
    await async_install_blueprints(hass)
    return True


async def async_setup_entry(hass: HomeAssistant, entry: VigilConfigEntry) -> bool:
    client = VigilClient(
        async_get_clientsession(hass, verify_ssl=entry.data.get(CONF_VERIFY_SSL, True)),
        entry.data[CONF_HOST], entry.data[CONF_PORT], entry.data[CONF_TOKEN],
        use_ssl=entry.data.get(CONF_SSL, False))
    try:
        await client.start()
    except InvalidAuth as err:
        raise ConfigEntryAuthFailed(str(err)) from err
    except UnsupportedVersion as err:
        ir.async_create_issue(hass, DOMAIN, f"protocol_{entry.entry_id}", is_fixable=False,
                              severity=ir.IssueSeverity.ERROR,
                              translation_key="unsupported_protocol",
                              translation_placeholders={"url": client.base_url,
                                                        "detail": str(err)})
        raise ConfigEntryError(str(err)) from err
    except CannotConnect as err:
        raise ConfigEntryNotReady(f"cannot reach {client.base_url}: {err}") from err
    ir.async_delete_issue(hass, DOMAIN, f"protocol_{entry.entry_id}")
    coordinator = VigilCoordinator(hass, entry, client)
    try:
        await coordinator.async_start()
    except Exception:
        await client.close()
        raise
    entry.runtime_data = coordinator
    # The hub first: camera devices link to it by its registry id.
    coordinator.hub_device_id = dr.async_get(hass).async_get_or_create(
        config_entry_id=entry.entry_id, **hub_device(coordinator)).id
    # The arm mode was a select before it became an alarm panel: drop the old entity.
    entities = er.async_get(hass)
    if old := entities.async_get_entity_id("select", DOMAIN,
                                           f"{coordinator.instance_id}_arm_mode"):
        entities.async_remove(old)
    _remove_stale_devices(hass, entry, coordinator, at_setup=True)
    entry.async_on_unload(coordinator.async_add_listener(
        lambda: _remove_stale_devices(hass, entry, coordinator)))
    if not HAS_OPTIONS_FLOW_WITH_RELOAD:  # HA < 2025.8 reloads through an update listener
        entry.async_on_unload(entry.add_update_listener(_options_updated))

    async def _close_on_stop(_event: Event) -> None:
        # Before HA closes its HTTP sessions, so the shutdown is not taken for an outage.
        await client.close()

    entry.async_on_unload(hass.bus.async_listen_once(EVENT_HOMEASSISTANT_STOP, _close_on_stop))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


async def async_unload_entry(hass: HomeAssistant, entry: VigilConfigEntry) -> bool:
    unloaded = await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
    if unloaded:
        await entry.runtime_data.async_shutdown()
    return unloaded


async def _options_updated(hass: HomeAssistant, entry: VigilConfigEntry) -> None:
    await hass.config_entries.async_reload(entry.entry_id)


@callback
def _remove_stale_devices(hass: HomeAssistant, entry: VigilConfigEntry,
                          coordinator: VigilCoordinator, *, at_setup: bool = False) -> None:
    """Devices of cameras the engine no longer lists (or hidden in options) are removed.

    At setup every device not shown is stale; afterwards only cameras that the engine's
    full listing dropped are, never one merely missing from a push or a failed refresh.
    """
    if not coordinator.last_update_success or coordinator.data is None:
        return
    keep = {(DOMAIN, coordinator.instance_id)} | {
        (DOMAIN, camera_device_id(coordinator, c)) for c in exposed_cameras(coordinator)}
    gone = {(DOMAIN, camera_device_id(coordinator, c))
            for c in coordinator.data.removed_cameras}
    registry = dr.async_get(hass)
    entities = er.async_get(hass)
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if not device.identifiers & keep and (at_setup or device.identifiers & gone):
            for ent in er.async_entries_for_device(entities, device.id,
                                                   include_disabled_entities=True):
                entities.async_remove(ent.entity_id)
                if at_setup:  # not loaded: drop the "unavailable" state left by the unload
                    hass.states.async_remove(ent.entity_id)
            registry.async_remove_device(device.id)


async def async_remove_config_entry_device(hass: HomeAssistant, entry: VigilConfigEntry,
                                           device: dr.DeviceEntry) -> bool:
    """A camera device may be deleted by hand once the engine no longer has that camera."""
    coordinator = entry.runtime_data
    return not any((DOMAIN, camera_device_id(coordinator, c)) in device.identifiers
                   for c in coordinator.data.cameras) and \
        (DOMAIN, coordinator.instance_id) not in device.identifiers
