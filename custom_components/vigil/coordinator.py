"""Push-based state for one engine: camera states, last events, arm mode, stats.

The engine pushes camera and event changes over the WebSocket; only the
engine statistics (storage, LLM state, events today) are refreshed on a
timer. While the engine is unreachable every entity is unavailable; that is
logged once when it happens and once when the engine is back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_call_later
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .client import VigilClient, VigilError
from .const import DOMAIN, EVENT_VIGIL, STATS_INTERVAL, UNREACHABLE_REPAIR_AFTER

_LOGGER = logging.getLogger(__name__)


def signal_event(entry_id: str) -> str:
    """Dispatcher signal carrying every event change of one engine."""
    return f"{DOMAIN}_{entry_id}_event"


@dataclass
class VigilData:
    cameras: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_event: dict[str, dict[str, Any]] = field(default_factory=dict)
    mode: str = "home"
    stats: dict[str, Any] = field(default_factory=dict)


class VigilCoordinator(DataUpdateCoordinator[VigilData]):
    config_entry: ConfigEntry

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, client: VigilClient) -> None:
        super().__init__(hass, _LOGGER, config_entry=entry, name=f"{DOMAIN} {client.host}",
                         update_interval=timedelta(seconds=STATS_INTERVAL))
        self.client = client
        self.instance_id: str = client.info.get("instance_id", "")
        self.version: str = client.info.get("version", "")
        self._unreachable_timer: CALLBACK_TYPE | None = None
        self._was_available = True
        client.on_connection = self._connection_changed
        client.on_resubscribed = self._after_reconnect

    # ------------------------------------------------------------------ setup

    async def async_start(self) -> None:
        """First full state, then live pushes."""
        await self.async_config_entry_first_refresh()
        await self.client.subscribe("cameras", "cameras/subscribe", self._camera_push)
        await self.client.subscribe("events", "events/subscribe", self._event_push)

    async def _async_update_data(self) -> VigilData:
        try:
            cameras = await self.client.command("cameras/list")
            mode = await self.client.command("mode/get")
            stats = await self.client.command("stats/get")
            data = self.data if self.data is not None else VigilData()
            data.cameras = {c["name"]: c for c in cameras}
            data.mode = mode["mode"]
            data.stats = stats
            if not data.last_event:
                for name in data.cameras:
                    page = await self.client.command("events/list", camera=name, limit=1)
                    if page["events"]:
                        data.last_event[name] = page["events"][0]
        except VigilError as err:
            raise UpdateFailed(f"Vigil engine at {self.client.base_url}: {err}") from err
        return data

    # ------------------------------------------------------------------ pushes

    @callback
    def _camera_push(self, push: dict[str, Any]) -> None:
        if push.get("action") != "camera" or self.data is None:
            return
        state = push["data"]
        cam = self.data.cameras.setdefault(state["name"], {"name": state["name"]})
        cam.update({k: v for k, v in state.items() if k != "motion"})
        cam.setdefault("motion", {})
        cam["motion"] = {**(cam["motion"] if isinstance(cam["motion"], dict) else {}),
                         "active": state["motion"]}
        self.async_set_updated_data(self.data)

    @callback
    def _event_push(self, push: dict[str, Any]) -> None:
        if self.data is None:
            return
        action = push.get("action")
        if action == "mode":
            self.data.mode = push["data"]["mode"]
            self.async_set_updated_data(self.data)
            return
        event = push.get("data") or {}
        camera = event.get("camera")
        if not camera:
            return
        current = self.data.last_event.get(camera)
        if current is None or event["start_time"] >= current["start_time"]:
            self.data.last_event[camera] = event
        self.hass.bus.async_fire(EVENT_VIGIL, {
            "action": action, "engine": self.instance_id, "entry_id": self.config_entry.entry_id,
            "camera": camera, "event_id": event.get("id"), "labels": event.get("labels", []),
            "zones": event.get("zones", []), "risk": event.get("risk"),
            "alert": event.get("alert", False), "start_time": event.get("start_time"),
            "end_time": event.get("end_time")})
        async_dispatcher_send(self.hass, signal_event(self.config_entry.entry_id), action, event)
        self.async_set_updated_data(self.data)

    # ------------------------------------------------------------------ availability

    @callback
    def _connection_changed(self, connected: bool) -> None:
        if self.hass.is_stopping or self.client.closing:
            return  # Home Assistant shutting down is not an engine outage
        if connected:
            if not self._was_available:
                _LOGGER.info("Vigil engine at %s is reachable again", self.client.base_url)
            self._was_available = True
            if self._unreachable_timer is not None:
                self._unreachable_timer()
                self._unreachable_timer = None
            ir.async_delete_issue(self.hass, DOMAIN, f"unreachable_{self.config_entry.entry_id}")
            return
        if self._was_available:
            _LOGGER.warning("Vigil engine at %s is unreachable; its entities are unavailable "
                            "until it is back", self.client.base_url)
        self._was_available = False
        self.last_update_success = False
        self.async_update_listeners()
        if self._unreachable_timer is None:
            self._unreachable_timer = async_call_later(
                self.hass, UNREACHABLE_REPAIR_AFTER, self._raise_unreachable_issue)

    @callback
    def _raise_unreachable_issue(self, _now: Any) -> None:
        self._unreachable_timer = None
        ir.async_create_issue(
            self.hass, DOMAIN, f"unreachable_{self.config_entry.entry_id}", is_fixable=False,
            severity=ir.IssueSeverity.ERROR, translation_key="engine_unreachable",
            translation_placeholders={"url": self.client.base_url,
                                      "minutes": str(int(UNREACHABLE_REPAIR_AFTER // 60))})

    async def _after_reconnect(self) -> None:
        await self.async_refresh()

    async def async_shutdown(self) -> None:
        if self._unreachable_timer is not None:
            self._unreachable_timer()
            self._unreachable_timer = None
        await super().async_shutdown()
        await self.client.close()
