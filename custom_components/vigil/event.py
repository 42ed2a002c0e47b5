"""Event entities: fire the risk level of each security event, and again when it
escalates (its level rises or its alert is raised)."""

from __future__ import annotations

from typing import Any

from homeassistant.components.event import EventEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect

from . import VigilConfigEntry
from .const import RISK_LEVELS
from .coordinator import VigilCoordinator, signal_event
from .entity import AddEntities, VigilCameraEntity, add_camera_entities

PARALLEL_UPDATES = 0


async def async_setup_entry(hass: HomeAssistant, entry: VigilConfigEntry,
                            async_add_entities: AddEntities) -> None:
    coordinator = entry.runtime_data
    add_camera_entities(entry, coordinator, async_add_entities,
                        lambda cam: [VigilEventEntity(coordinator, cam)])


class VigilEventEntity(VigilCameraEntity, EventEntity):
    """Fires once per event with its risk level, and again each time it escalates."""

    _attr_event_types = RISK_LEVELS
    _unrecorded_attributes = frozenset({"summary", "snapshot_url"})

    def __init__(self, coordinator: VigilCoordinator, camera: str) -> None:
        super().__init__(coordinator, camera, "security_event")
        self._fired: dict[str, str] = {}  # event id -> level last fired

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self.async_on_remove(async_dispatcher_connect(
            self.hass, signal_event(self.coordinator.config_entry.entry_id), self._on_event))

    @callback
    def _on_event(self, action: str, event: dict[str, Any]) -> None:
        if event.get("camera") != self.camera or action == "end":
            return
        risk = event.get("risk")
        if not risk or risk.get("risk_level") not in RISK_LEVELS:
            return
        fired = self._fired.get(event["id"])
        # New events fire once their first assessment is there (with the event itself, or
        # soon after when risk analysis lags); after that only escalations fire.
        if fired is not None and action != "escalate":
            return
        self._fired[event["id"]] = risk["risk_level"]
        if len(self._fired) > 200:
            self._fired.pop(next(iter(self._fired)))
        self._trigger_event(risk["risk_level"], {
            "event_id": event["id"], "summary": risk.get("summary"),
            "activity_type": risk.get("activity_type"), "risk_score": risk.get("risk_score"),
            "provider": risk.get("provider"), "status": risk.get("status"),
            "labels": event.get("labels", []), "zones": event.get("zones", []),
            "alert": event.get("alert", False), "action": action,
            "previous_level": fired, "escalation": event.get("escalation"),
            "snapshot_url": f"/api/vigil/{self.coordinator.config_entry.entry_id}/snapshot/"
                            f"{event['id']}.jpg" if event.get("has_snapshot") else None,
        })
        self.async_write_ha_state()
