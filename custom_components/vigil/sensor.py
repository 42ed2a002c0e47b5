"""Sensors: per camera risk, activity and object counts; per engine health figures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfInformation, UnitOfTime
from homeassistant.core import HomeAssistant

from . import VigilConfigEntry
from .const import LLM_STATES, RISK_LEVELS
from .coordinator import VigilCoordinator
from .entity import AddEntities, VigilCameraEntity, VigilEntity, add_camera_entities

PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class CameraSensorDescription(SensorEntityDescription):
    value: Callable[[dict[str, Any], dict[str, Any] | None], Any]


def _risk(event: dict[str, Any] | None) -> dict[str, Any]:
    return (event or {}).get("risk") or {}


CAMERA_SENSORS = (
    CameraSensorDescription(key="risk_score", state_class=SensorStateClass.MEASUREMENT,
                            value=lambda cam, ev: _risk(ev).get("risk_score")),
    CameraSensorDescription(key="risk_level", device_class=SensorDeviceClass.ENUM,
                            options=RISK_LEVELS,
                            value=lambda cam, ev: _risk(ev).get("risk_level")),
    # The short activity type is the state; the LLM's free-text summary is an
    # attribute that the recorder leaves out (it would fill the database).
    CameraSensorDescription(key="activity", value=lambda cam, ev: (
        (_risk(ev).get("activity_type") or "")[:255] or None)),
    CameraSensorDescription(key="camera_fps", entity_category=EntityCategory.DIAGNOSTIC,
                            state_class=SensorStateClass.MEASUREMENT,
                            native_unit_of_measurement="fps", suggested_display_precision=1,
                            entity_registry_enabled_default=False,
                            value=lambda cam, ev: cam.get("fps")),
    CameraSensorDescription(key="detect_fps", entity_category=EntityCategory.DIAGNOSTIC,
                            state_class=SensorStateClass.MEASUREMENT,
                            native_unit_of_measurement="fps", suggested_display_precision=1,
                            entity_registry_enabled_default=False,
                            value=lambda cam, ev: cam.get("detect_fps")),
)


def _llm_state(stats: dict[str, Any]) -> str | None:
    risk = stats.get("risk") or {}
    if not risk:
        return None
    if risk.get("provider") == "rules":
        return "rules"
    return {"closed": "ok", "half_open": "degraded", "open": "down"}.get(risk.get("circuit"))


@dataclass(frozen=True, kw_only=True)
class EngineSensorDescription(SensorEntityDescription):
    value: Callable[[dict[str, Any]], Any]


ENGINE_SENSORS = (
    EngineSensorDescription(key="inference_speed", entity_category=EntityCategory.DIAGNOSTIC,
                            state_class=SensorStateClass.MEASUREMENT,
                            device_class=SensorDeviceClass.DURATION,
                            native_unit_of_measurement=UnitOfTime.MILLISECONDS,
                            suggested_display_precision=1,
                            value=lambda s: (s.get("detector") or {}).get("inference_ms")),
    EngineSensorDescription(key="llm_state", device_class=SensorDeviceClass.ENUM,
                            options=LLM_STATES, entity_category=EntityCategory.DIAGNOSTIC,
                            value=_llm_state),
    EngineSensorDescription(key="storage_used", device_class=SensorDeviceClass.DATA_SIZE,
                            state_class=SensorStateClass.MEASUREMENT,
                            native_unit_of_measurement=UnitOfInformation.BYTES,
                            suggested_unit_of_measurement=UnitOfInformation.GIGABYTES,
                            suggested_display_precision=2,
                            entity_category=EntityCategory.DIAGNOSTIC,
                            value=lambda s: (s.get("storage") or {}).get("used_bytes")),
    # Counts up through the day and restarts at zero: a meter that resets.
    EngineSensorDescription(key="events_today", state_class=SensorStateClass.TOTAL_INCREASING,
                            value=lambda s: s.get("events_today")),
)


async def async_setup_entry(hass: HomeAssistant, entry: VigilConfigEntry,
                            async_add_entities: AddEntities) -> None:
    coordinator = entry.runtime_data
    async_add_entities(EngineSensor(coordinator, d) for d in ENGINE_SENSORS)

    def camera_entities(cam: str) -> list[SensorEntity]:
        labels = coordinator.data.cameras.get(cam, {}).get("tracked_labels", [])
        return [*(CameraSensor(coordinator, cam, d) for d in CAMERA_SENSORS),
                *(ObjectCountSensor(coordinator, cam, label) for label in labels)]

    add_camera_entities(entry, coordinator, async_add_entities, camera_entities)


class CameraSensor(VigilCameraEntity, SensorEntity):
    entity_description: CameraSensorDescription
    _unrecorded_attributes = frozenset({"summary", "labels", "event_id"})

    def __init__(self, coordinator: VigilCoordinator, camera: str,
                 description: CameraSensorDescription) -> None:
        super().__init__(coordinator, camera, description.key)
        self.entity_description = description

    @property
    def native_value(self) -> Any:
        event = self.coordinator.data.last_event.get(self.camera)
        return self.entity_description.value(self.camera_state, event)

    @property
    def extra_state_attributes(self) -> dict[str, Any] | None:
        if self.entity_description.key != "activity":
            return None
        event = self.coordinator.data.last_event.get(self.camera) or {}
        risk = _risk(event)
        return {"event_id": event.get("id"), "summary": risk.get("summary"),
                "labels": event.get("labels"), "provider": risk.get("provider")}


class ObjectCountSensor(VigilCameraEntity, SensorEntity):
    _attr_state_class = SensorStateClass.MEASUREMENT

    def __init__(self, coordinator: VigilCoordinator, camera: str, label: str) -> None:
        super().__init__(coordinator, camera, f"{label.replace(' ', '_')}_count")
        self.label = label
        self._attr_translation_key = "object_count"
        self._attr_translation_placeholders = {"label": label}

    @property
    def native_value(self) -> int:
        return int((self.camera_state.get("objects") or {}).get(self.label, 0))


class EngineSensor(VigilEntity, SensorEntity):
    entity_description: EngineSensorDescription

    def __init__(self, coordinator: VigilCoordinator,
                 description: EngineSensorDescription) -> None:
        super().__init__(coordinator, description.key)
        self.entity_description = description

    @property
    def native_value(self) -> Any:
        return self.entity_description.value(self.coordinator.data.stats)
