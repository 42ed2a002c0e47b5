"""Event entities: fire the risk level of each security event, again when the LLM's
assessment replaces the first (rules) one."""

from __future__ import annotations

from typing import Any

from homeassistant.components.event import EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from . import VigilConfigEntry
from .const import RISK_LEVELS
from .coordinator import VigilCoordinator, signal_event
from .entity import VigilCameraEntity, add_camera_entities

PARALLEL_UPDATES = 0


async def async_setup_entry(hass: HomeAssistant, entry: VigilConfigEntry,
                            async_add_entities: AddEntitiesCallback) -> None:
    coordinator = entry.runtime_data
    add_camera_entities(entry, coordinator, async_add_entities,
                        lambda cam: [VigilEventEntity(coordinator, cam)])


class VigilEventEntity(VigilCameraEntity, EventEntity):
    _attr_event_types = RISK_LEVELS

    def __init__(self, coordinator: VigilCoordinator, camera: str) -> None:
        super().__init__(coordinator, camera, "security_event")
        self._fired: dict[str, tuple[str, str]] = {}  # event id -> (provider, status) fired

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.async_on_remove(async_dispatcher_connect(
            self.hass, signal_event(self.coordinator.config_entry.entry_id), self._on_event))

    @callback
    def _on_event(self, action: str, event: dict[str, Any]) -> None:
        if event.get("camera") != self.camera:
            return
        risk = event.get("risk")
        if not risk:
            return
        key = (risk.get("provider", ""), risk.get("status", ""))
        previous = self._fired.get(event["id"])
        # Fire again only when a different assessment arrives (LLM replacing rules).
        if previous is not None and (previous[0] == key[0] or key[1] == "pending"):
            return
        self._fired[event["id"]] = key
        if len(self._fired) > 200:
            self._fired.pop(next(iter(self._fired)))
        self._trigger_event(risk["risk_level"], {
            "event_id": event["id"], "summary": risk.get("summary"),
            "activity_type": risk.get("activity_type"), "risk_score": risk.get("risk_score"),
            "provider": risk.get("provider"), "status": risk.get("status"),
            "labels": event.get("labels", []), "zones": event.get("zones", []),
            "alert": event.get("alert", False), "action": action,
            "snapshot_url": f"/api/vigil/{self.coordinator.config_entry.entry_id}/snapshot/"
                            f"{event['id']}.jpg" if event.get("has_snapshot") else None,
        })
        self.async_write_ha_state()
