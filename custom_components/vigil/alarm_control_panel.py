"""The arm mode of the house as an alarm panel, kept by the engine and used in every
risk assessment. Each HA alarm state maps one to one onto a Vigil mode."""

from __future__ import annotations

from homeassistant.components.alarm_control_panel import (
    AlarmControlPanelEntity,
    AlarmControlPanelEntityFeature,
    AlarmControlPanelState,
)
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError

from . import VigilConfigEntry
from .client import VigilError
from .const import DOMAIN
from .coordinator import VigilCoordinator
from .entity import AddEntities, VigilEntity

PARALLEL_UPDATES = 1

TO_VIGIL: dict[AlarmControlPanelState, str] = {
    AlarmControlPanelState.DISARMED: "disarmed",
    AlarmControlPanelState.ARMED_HOME: "home",
    AlarmControlPanelState.ARMED_AWAY: "away",
    AlarmControlPanelState.ARMED_NIGHT: "night",
    AlarmControlPanelState.ARMED_VACATION: "vacation",
}
FROM_VIGIL = {mode: state for state, mode in TO_VIGIL.items()}


async def async_setup_entry(hass: HomeAssistant, entry: VigilConfigEntry,
                            async_add_entities: AddEntities) -> None:
    async_add_entities([ArmModePanel(entry.runtime_data)])


class ArmModePanel(VigilEntity, AlarmControlPanelEntity):
    """Arming needs no code: Vigil's mode steers risk assessment, it sounds no siren."""

    _attr_code_arm_required = False
    _attr_supported_features = (
        AlarmControlPanelEntityFeature.ARM_HOME | AlarmControlPanelEntityFeature.ARM_AWAY
        | AlarmControlPanelEntityFeature.ARM_NIGHT
        | AlarmControlPanelEntityFeature.ARM_VACATION)

    def __init__(self, coordinator: VigilCoordinator) -> None:
        super().__init__(coordinator, "arm_mode")

    @property
    def alarm_state(self) -> AlarmControlPanelState | None:
        return FROM_VIGIL.get(self.coordinator.data.mode)

    async def _set(self, state: AlarmControlPanelState) -> None:
        mode = TO_VIGIL[state]
        try:
            await self.coordinator.client.command("mode/set", mode=mode)
        except VigilError as err:
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="engine_error",
                                     translation_placeholders={"error": str(err)}) from err
        self.coordinator.data.mode = mode
        self.coordinator.async_update_listeners()

    async def async_alarm_disarm(self, code: str | None = None) -> None:
        await self._set(AlarmControlPanelState.DISARMED)

    async def async_alarm_arm_home(self, code: str | None = None) -> None:
        await self._set(AlarmControlPanelState.ARMED_HOME)

    async def async_alarm_arm_away(self, code: str | None = None) -> None:
        await self._set(AlarmControlPanelState.ARMED_AWAY)

    async def async_alarm_arm_night(self, code: str | None = None) -> None:
        await self._set(AlarmControlPanelState.ARMED_NIGHT)

    async def async_alarm_arm_vacation(self, code: str | None = None) -> None:
        await self._set(AlarmControlPanelState.ARMED_VACATION)
