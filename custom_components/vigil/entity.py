"""Base entities: one hub device per engine, one device per camera (via the hub)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.entity_platform import (
    AddConfigEntryEntitiesCallback as AddEntities,
)
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .const import DOMAIN
from .coordinator import VigilCoordinator


def hub_device(coordinator: VigilCoordinator) -> DeviceInfo:
    return DeviceInfo(
        identifiers={(DOMAIN, coordinator.instance_id)},
        manufacturer="Vigil",
        model="Vigil engine",
        name=coordinator.engine_name,
        serial_number=coordinator.instance_id,
        sw_version=coordinator.version,
        configuration_url=coordinator.client.base_url,
    )


# HA 2026 links devices by registry id (DeviceInfo.via_device is deprecated); HA 2025.4
# knows only the identifier form.
_VIA_DEVICE_ID = "via_device_id" in DeviceInfo.__optional_keys__


def camera_device_id(coordinator: VigilCoordinator, camera: str) -> str:
    return f"{coordinator.instance_id}_{camera}"


class VigilEntity(CoordinatorEntity[VigilCoordinator]):
    """An entity of the engine itself (hub device)."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: VigilCoordinator, key: str) -> None:
        super().__init__(coordinator)
        self._attr_unique_id = f"{coordinator.instance_id}_{key}"
        self._attr_translation_key = key
        self._attr_device_info = hub_device(coordinator)


class VigilCameraEntity(CoordinatorEntity[VigilCoordinator]):
    """An entity of one camera (camera device, linked to the hub)."""

    _attr_has_entity_name = True

    def __init__(self, coordinator: VigilCoordinator, camera: str, key: str | None) -> None:
        super().__init__(coordinator)
        self.camera = camera
        uid = camera_device_id(coordinator, camera)
        self._attr_unique_id = f"{uid}_{key}" if key else uid
        if key:
            self._attr_translation_key = key
        self._attr_device_info = DeviceInfo(
            identifiers={(DOMAIN, uid)},
            manufacturer="Vigil",
            model="Camera",
            name=camera.replace("_", " ").title(),
        )
        if _VIA_DEVICE_ID and coordinator.hub_device_id:
            self._attr_device_info["via_device_id"] = coordinator.hub_device_id
        else:
            self._attr_device_info["via_device"] = (DOMAIN, coordinator.instance_id)

    @property
    def camera_state(self) -> dict[str, Any]:
        return self.coordinator.data.cameras.get(self.camera, {})

    @property
    def available(self) -> bool:
        return super().available and self.camera in self.coordinator.data.cameras


def exposed_cameras(coordinator: VigilCoordinator) -> list[str]:
    """The engine's cameras this load shows (all, unless the options chose some)."""
    chosen = coordinator.chosen_cameras
    names = list(coordinator.data.cameras)
    return [n for n in names if chosen is None or n in chosen]


def add_camera_entities(
    entry: ConfigEntry, coordinator: VigilCoordinator, add: AddEntities,
    factory: Callable[[str], Iterable[Entity]],
) -> None:
    """Add entities for every exposed camera now, and for cameras that appear later."""
    known: set[str] = set()

    @callback
    def sync() -> None:
        new = [c for c in exposed_cameras(coordinator) if c not in known]
        if not new:
            return
        known.update(new)
        add([e for c in new for e in factory(c)])

    sync()
    entry.async_on_unload(coordinator.async_add_listener(sync))
