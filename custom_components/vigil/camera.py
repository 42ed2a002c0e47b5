"""Camera entities: stills from the engine, live view from the camera's own stream."""

from __future__ import annotations

from homeassistant.components.camera import Camera, CameraEntityFeature
from homeassistant.core import HomeAssistant

from . import VigilConfigEntry
from .client import VigilError
from .const import CONF_SNAPSHOT_HEIGHT, DEFAULT_SNAPSHOT_HEIGHT
from .coordinator import VigilCoordinator
from .entity import AddEntities, VigilCameraEntity, add_camera_entities

PARALLEL_UPDATES = 0


async def async_setup_entry(hass: HomeAssistant, entry: VigilConfigEntry,
                            async_add_entities: AddEntities) -> None:
    coordinator = entry.runtime_data
    height = entry.options.get(CONF_SNAPSHOT_HEIGHT, DEFAULT_SNAPSHOT_HEIGHT)
    add_camera_entities(entry, coordinator, async_add_entities,
                        lambda cam: [VigilCamera(coordinator, cam, height)])


class VigilCamera(VigilCameraEntity, Camera):
    _attr_name = None  # the device's name

    def __init__(self, coordinator: VigilCoordinator, camera: str, height: int) -> None:
        VigilCameraEntity.__init__(self, coordinator, camera, None)
        Camera.__init__(self)
        self._height = height

    @property
    def supported_features(self) -> CameraEntityFeature:
        return CameraEntityFeature.STREAM if self.camera_state.get("has_stream") \
            else CameraEntityFeature(0)

    @property
    def is_streaming(self) -> bool:
        return self.camera_state.get("status") == "online"

    @property
    def is_recording(self) -> bool:
        return bool((self.camera_state.get("switches") or {}).get("record"))

    @property
    def motion_detection_enabled(self) -> bool:
        return bool((self.camera_state.get("switches") or {}).get("detect"))

    async def stream_source(self) -> str | None:
        """The real stream URL (with credentials) comes from a command made for this;
        listings never carry it."""
        if not self.camera_state.get("has_stream"):
            return None
        try:
            result = await self.coordinator.client.command("camera/stream_source",
                                                           camera=self.camera)
        except (VigilError, TimeoutError):
            return None
        return (result or {}).get("url")

    async def async_camera_image(self, width: int | None = None,
                                 height: int | None = None) -> bytes | None:
        try:
            return await self.coordinator.client.get_bytes(
                f"api/cameras/{self.camera}/latest.jpg",
                params={"height": min(height or self._height, self._height)})
        except VigilError:
            return None
