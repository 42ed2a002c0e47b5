"""Binary sensors: motion, occupancy per tracked label, camera online, engine connected."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.binary_sensor import (
    BinarySensorDeviceClass,
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant

from . import VigilConfigEntry
from .coordinator import VigilCoordinator
from .entity import AddEntities, VigilCameraEntity, VigilEntity, add_camera_entities

PARALLEL_UPDATES = 0


async def async_setup_entry(hass: HomeAssistant, entry: VigilConfigEntry,
                            async_add_entities: AddEntities) -> None:
    coordinator = entry.runtime_data
    async_add_entities([EngineConnected(coordinator)])
    servers = (coordinator.data.stats.get("frigate") or {}) if coordinator.data else {}
    async_add_entities(FrigateServerSensor(coordinator, server, description)
                       for server in servers for description in FRIGATE_SENSORS)

    def camera_entities(cam: str) -> list[BinarySensorEntity]:
        labels = coordinator.data.cameras.get(cam, {}).get("tracked_labels", [])
        return [MotionSensor(coordinator, cam), OnlineSensor(coordinator, cam),
                *(OccupancySensor(coordinator, cam, label) for label in labels)]

    add_camera_entities(entry, coordinator, async_add_entities, camera_entities)


class MotionSensor(VigilCameraEntity, BinarySensorEntity):
    _attr_device_class = BinarySensorDeviceClass.MOTION

    def __init__(self, coordinator: VigilCoordinator, camera: str) -> None:
        super().__init__(coordinator, camera, "motion")

    @property
    def is_on(self) -> bool:
        motion = self.camera_state.get("motion")
        return bool(motion.get("active") if isinstance(motion, dict) else motion)


class OccupancySensor(VigilCameraEntity, BinarySensorEntity):
    _attr_device_class = BinarySensorDeviceClass.OCCUPANCY

    def __init__(self, coordinator: VigilCoordinator, camera: str, label: str) -> None:
        super().__init__(coordinator, camera, f"{label.replace(' ', '_')}_occupancy")
        self.label = label
        self._attr_translation_key = "occupancy"
        self._attr_translation_placeholders = {"label": label}

    @property
    def is_on(self) -> bool:
        return int((self.camera_state.get("objects") or {}).get(self.label, 0)) > 0


class OnlineSensor(VigilCameraEntity, BinarySensorEntity):
    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, coordinator: VigilCoordinator, camera: str) -> None:
        super().__init__(coordinator, camera, "online")

    @property
    def is_on(self) -> bool:
        return self.camera_state.get("status") == "online"


class EngineConnected(VigilEntity, BinarySensorEntity):
    """Stays available while the engine is away, to report exactly that."""

    _attr_device_class = BinarySensorDeviceClass.CONNECTIVITY
    _attr_entity_category = EntityCategory.DIAGNOSTIC

    def __init__(self, coordinator: VigilCoordinator) -> None:
        super().__init__(coordinator, "connected")

    @property
    def available(self) -> bool:
        return True

    @property
    def is_on(self) -> bool:
        return self.coordinator.client.connected and self.coordinator.last_update_success


@dataclass(frozen=True, kw_only=True)
class FrigateBinarySensorDescription(BinarySensorEntityDescription):
    """A health fact about one Frigate server the engine listens to."""

    value_fn: Callable[[dict[str, Any]], bool]


FRIGATE_SENSORS: tuple[FrigateBinarySensorDescription, ...] = (
    FrigateBinarySensorDescription(
        key="frigate_connected", translation_key="frigate_connected",
        device_class=BinarySensorDeviceClass.CONNECTIVITY,
        entity_category=EntityCategory.DIAGNOSTIC,
        value_fn=lambda s: bool(s.get("mqtt_connected") and s.get("reachable")),
    ),
)


class FrigateServerSensor(VigilEntity, BinarySensorEntity):
    """On while the engine hears Frigate's MQTT events and reaches its HTTP API."""

    entity_description: FrigateBinarySensorDescription

    def __init__(self, coordinator: VigilCoordinator, server: str,
                 description: FrigateBinarySensorDescription) -> None:
        super().__init__(coordinator, f"{description.key}_{server}")
        self.server = server
        self.entity_description = description
        self._attr_translation_key = description.translation_key
        self._attr_translation_placeholders = {"server": server}

    @property
    def _server(self) -> dict[str, Any]:
        return (self.coordinator.data.stats.get("frigate") or {}).get(self.server) or {}

    @property
    def is_on(self) -> bool:
        return self.entity_description.value_fn(self._server)

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        s = self._server
        return {k: s.get(k) for k in ("mqtt_connected", "reachable", "version",
                                      "last_message", "gave_up")}
