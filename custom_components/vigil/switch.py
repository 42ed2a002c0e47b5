"""Switches for detection, recording and risk analysis; the state lives in the engine."""

from __future__ import annotations

from typing import Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from . import VigilConfigEntry
from .client import VigilError
from .const import DOMAIN
from .coordinator import VigilCoordinator
from .entity import AddEntities, VigilCameraEntity, add_camera_entities

PARALLEL_UPDATES = 1
SWITCHES = ("detect", "record", "risk")


async def async_setup_entry(hass: HomeAssistant, entry: VigilConfigEntry,
                            async_add_entities: AddEntities) -> None:
    coordinator = entry.runtime_data

    def switches(cam: str) -> list[CameraSwitch]:
        # Frigate's cameras are switched in Frigate; the engine has no switches for them.
        if coordinator.data.cameras.get(cam, {}).get("source") == "frigate":
            return []
        return [CameraSwitch(coordinator, cam, k) for k in SWITCHES]

    add_camera_entities(entry, coordinator, async_add_entities, switches)


class CameraSwitch(VigilCameraEntity, SwitchEntity):
    _attr_entity_category = EntityCategory.CONFIG

    def __init__(self, coordinator: VigilCoordinator, camera: str, key: str) -> None:
        super().__init__(coordinator, camera, f"{key}_switch")
        self.key = key

    @property
    def is_on(self) -> bool:
        return bool((self.camera_state.get("switches") or {}).get(self.key))

    async def _set(self, value: bool) -> None:
        try:
            switches = await self.coordinator.client.command(
                "camera/set", camera=self.camera, **{self.key: value})
        except VigilError as err:
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="engine_error",
                                     translation_placeholders={"error": str(err)}) from err
        self.coordinator.data.cameras.setdefault(self.camera, {})["switches"] = switches
        self.coordinator.async_set_updated_data(self.coordinator.data)

    async def async_turn_on(self, **kwargs: Any) -> None:
        await self._set(True)

    async def async_turn_off(self, **kwargs: Any) -> None:
        await self._set(False)
