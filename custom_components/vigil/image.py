"""Image entity: the snapshot of each camera's latest event.

The engine rewrites an open event's snapshot when it sees a better frame, so the
entity looks again (at most every few seconds, and once when the event ends)
and moves its timestamp forward when the picture changed.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime

from homeassistant.components.image import ImageEntity
from homeassistant.core import HomeAssistant, callback
from homeassistant.util import dt as dt_util

from . import VigilConfigEntry
from .client import VigilError
from .coordinator import VigilCoordinator
from .entity import AddEntities, VigilCameraEntity, add_camera_entities

PARALLEL_UPDATES = 0
RECHECK_SECONDS = 3.0  # the engine rewrites snapshots of open events at most this often


async def async_setup_entry(hass: HomeAssistant, entry: VigilConfigEntry,
                            async_add_entities: AddEntities) -> None:
    coordinator = entry.runtime_data
    add_camera_entities(entry, coordinator, async_add_entities,
                        lambda cam: [EventSnapshot(hass, coordinator, cam)])


class EventSnapshot(VigilCameraEntity, ImageEntity):
    _attr_content_type = "image/jpeg"

    def __init__(self, hass: HomeAssistant, coordinator: VigilCoordinator, camera: str) -> None:
        VigilCameraEntity.__init__(self, coordinator, camera, "event_snapshot")
        ImageEntity.__init__(self, hass)
        self._event_id: str | None = None
        self._digest: str | None = None
        self._checked = 0.0
        self._checked_end = False
        self._checking = False
        self._update_from_event()

    def _update_from_event(self) -> None:
        event = self.coordinator.data.last_event.get(self.camera)
        if not event or not event.get("has_snapshot"):
            return
        ended = event.get("end_time") is not None
        due = (ended and not self._checked_end) or (
            not ended and time.monotonic() - self._checked >= RECHECK_SECONDS)
        if event["id"] != self._event_id:
            self._event_id = event["id"]
            self._attr_image_last_updated = datetime.fromtimestamp(event["start_time"], UTC)
            self._digest = None
            due = True  # note the first picture, to tell when a better one replaces it
        if due and not self._checking and self.hass is not None:
            self._checking = True
            self._checked = time.monotonic()
            self._checked_end = ended
            self.hass.async_create_background_task(
                self._recheck(event["id"]), f"vigil snapshot recheck {self.camera}")

    async def _recheck(self, event_id: str) -> None:
        try:
            data = await self.coordinator.client.get_bytes(f"api/events/{event_id}/snapshot.jpg")
        except VigilError:
            return
        finally:
            self._checking = False
        digest = hashlib.sha256(data).hexdigest()
        if event_id != self._event_id or digest == self._digest:
            return
        if self._digest is not None:  # a better frame replaced the one shown
            self._attr_image_last_updated = dt_util.utcnow()
            self.async_write_ha_state()
        self._digest = digest

    @callback
    def _handle_coordinator_update(self) -> None:
        self._update_from_event()
        super()._handle_coordinator_update()

    async def async_image(self) -> bytes | None:
        if self._event_id is None:
            return None
        try:
            data = await self.coordinator.client.get_bytes(
                f"api/events/{self._event_id}/snapshot.jpg")
        except VigilError:
            return None
        self._digest = hashlib.sha256(data).hexdigest()
        return data
