"""Image entity: the snapshot of each camera's latest event."""

from __future__ import annotations

from datetime import UTC, datetime

from homeassistant.components.image import ImageEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from . import VigilConfigEntry
from .client import VigilError
from .coordinator import VigilCoordinator
from .entity import VigilCameraEntity, add_camera_entities

PARALLEL_UPDATES = 0


async def async_setup_entry(hass: HomeAssistant, entry: VigilConfigEntry,
                            async_add_entities: AddEntitiesCallback) -> None:
    coordinator = entry.runtime_data
    add_camera_entities(entry, coordinator, async_add_entities,
                        lambda cam: [EventSnapshot(hass, coordinator, cam)])


class EventSnapshot(VigilCameraEntity, ImageEntity):
    _attr_content_type = "image/jpeg"

    def __init__(self, hass: HomeAssistant, coordinator: VigilCoordinator, camera: str) -> None:
        VigilCameraEntity.__init__(self, coordinator, camera, "event_snapshot")
        ImageEntity.__init__(self, hass)
        self._event_id: str | None = None
        self._update_from_event()

    def _update_from_event(self) -> None:
        event = self.coordinator.data.last_event.get(self.camera)
        if event and event.get("has_snapshot") and event["id"] != self._event_id:
            self._event_id = event["id"]
            self._attr_image_last_updated = datetime.fromtimestamp(event["start_time"], UTC)
            self._cached_image = None

    @callback
    def _handle_coordinator_update(self) -> None:
        self._update_from_event()
        super()._handle_coordinator_update()

    async def async_image(self) -> bytes | None:
        if self._event_id is None:
            return None
        try:
            return await self.coordinator.client.get_bytes(
                f"api/events/{self._event_id}/snapshot.jpg")
        except VigilError:
            return None
