"""The arm mode of the house, kept by the engine and used in every risk assessment."""

from __future__ import annotations

from homeassistant.components.select import SelectEntity
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.entity_platform import AddEntitiesCallback

from . import VigilConfigEntry
from .client import VigilError
from .const import ARM_MODES, DOMAIN
from .coordinator import VigilCoordinator
from .entity import VigilEntity

PARALLEL_UPDATES = 1


async def async_setup_entry(hass: HomeAssistant, entry: VigilConfigEntry,
                            async_add_entities: AddEntitiesCallback) -> None:
    async_add_entities([ArmModeSelect(entry.runtime_data)])


class ArmModeSelect(VigilEntity, SelectEntity):
    _attr_options = ARM_MODES

    def __init__(self, coordinator: VigilCoordinator) -> None:
        super().__init__(coordinator, "arm_mode")

    @property
    def current_option(self) -> str | None:
        return self.coordinator.data.mode

    async def async_select_option(self, option: str) -> None:
        try:
            await self.coordinator.client.command("mode/set", mode=option)
        except VigilError as err:
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="engine_error",
                                     translation_placeholders={"error": str(err)}) from err
        self.coordinator.data.mode = option
        self.coordinator.async_set_updated_data(self.coordinator.data)
