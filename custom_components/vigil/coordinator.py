"""Push-based state for one engine: camera states, last events, arm mode, stats.

The engine pushes camera and event changes over the WebSocket; the engine
statistics (storage, LLM state, events today) are refreshed on their own timer,
which pushes never reset. While the engine is unreachable every entity is
unavailable; that is logged once when it happens and once when the engine is
back, and the events missed meanwhile are fetched and applied on reconnect.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_call_later, async_track_time_interval
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator, UpdateFailed

from .client import VigilClient, VigilError
from .const import (
    CONF_CAMERAS,
    DOMAIN,
    EVENT_VIGIL,
    RISK_LEVELS,
    STATS_INTERVAL,
    UNREACHABLE_REPAIR_AFTER,
)

_LOGGER = logging.getLogger(__name__)

EVENT_PUSHES = ("new", "update", "escalate", "end")
TRACKED_EVENTS = 500  # events remembered for change detection
CATCH_UP_LIMIT = 500  # most missed events applied after a reconnect
CLOCK_MARGIN = 300.0  # seconds the engine's clock may differ from HA's


def signal_event(entry_id: str) -> str:
    """Dispatcher signal carrying every change that matters (HA action, event JSON)."""
    return f"{DOMAIN}_{entry_id}_event"


def level_rank(risk: dict[str, Any] | None) -> int:
    level = (risk or {}).get("risk_level")
    return RISK_LEVELS.index(level) if level in RISK_LEVELS else -1


@dataclass
class Seen:
    """What Home Assistant has announced of one event so far."""

    assessment: tuple[Any, ...]
    rank: int
    level: str | None
    alert: bool
    ended: bool


def _assessment(event: dict[str, Any]) -> tuple[Any, ...]:
    risk = event.get("risk") or {}
    return (risk.get("provider"), risk.get("status"), risk.get("summary"))


@dataclass
class VigilData:
    cameras: dict[str, dict[str, Any]] = field(default_factory=dict)
    last_event: dict[str, dict[str, Any]] = field(default_factory=dict)
    mode: str = "home"
    stats: dict[str, Any] = field(default_factory=dict)
    removed_cameras: set[str] = field(default_factory=set)


class VigilCoordinator(DataUpdateCoordinator[VigilData]):
    config_entry: ConfigEntry

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, client: VigilClient) -> None:
        # No update_interval: state is pushed; stats have their own timer (async_start).
        super().__init__(hass, _LOGGER, config_entry=entry, name=f"{DOMAIN} {client.host}")
        self.client = client
        self.instance_id: str = client.info.get("instance_id", "")
        self.version: str = client.info.get("version", "")
        self.engine_name: str = client.info.get("name") or "Vigil"
        self.hub_device_id: str | None = None  # set once the hub device is registered
        # The cameras the options expose, as they were when this load began: an options
        # change reloads the entry, and until then this load keeps to its own choice
        # (reacting early would add entities the reload is about to add again).
        chosen = entry.options.get(CONF_CAMERAS)
        self.chosen_cameras: frozenset[str] | None = (
            None if chosen is None else frozenset(chosen))
        self._unreachable_timer: CALLBACK_TYPE | None = None
        self._stats_timer: CALLBACK_TYPE | None = None
        self._was_available = True
        self._seen: dict[str, Seen] = {}
        self._last_start = 0.0  # newest event start seen, where a catch-up begins
        self._lost_at = 0.0  # when the connection dropped
        self._catch_up_since = 0.0  # start time from which missed events are fetched
        client.on_connection = self._connection_changed
        client.on_resubscribed = self._after_reconnect
        client.on_auth_failed = self._auth_failed

    # ------------------------------------------------------------------ setup

    async def async_start(self) -> None:
        """First full state, then live pushes, then the stats timer."""
        await self.async_config_entry_first_refresh()
        for event in self.data.last_event.values():
            self._remember(event)
        await self.client.subscribe("cameras", "cameras/subscribe", self._camera_push)
        await self.client.subscribe("events", "events/subscribe", self._event_push)
        self._stats_timer = async_track_time_interval(
            self.hass, self._refresh_stats, timedelta(seconds=STATS_INTERVAL))

    async def _async_update_data(self) -> VigilData:
        try:
            cameras = await self.client.command("cameras/list")
            mode = await self.client.command("mode/get")
            stats = await self.client.command("stats/get")
            data = self.data if self.data is not None else VigilData()
            listed = {c["name"]: c for c in cameras}
            # Only the engine's full listing says a camera is gone.
            data.removed_cameras = set(data.cameras) - set(listed)
            data.cameras = listed
            data.mode = mode["mode"]
            data.stats = stats
            for name in listed:
                if name not in data.last_event:
                    page = await self.client.command("events/list", camera=name, limit=1)
                    if page["events"]:
                        data.last_event[name] = page["events"][0]
        except VigilError as err:
            raise UpdateFailed(f"Vigil engine at {self.client.base_url}: {err}") from err
        return data

    async def _refresh_stats(self, _now: datetime | None = None) -> None:
        if self.data is None or not self.client.connected:
            return
        try:
            self.data.stats = await self.client.command("stats/get")
        except VigilError as err:
            _LOGGER.debug("Vigil stats refresh failed: %s", err)
            return
        self.async_update_listeners()

    # ------------------------------------------------------------------ pushes

    @callback
    def _camera_push(self, push: dict[str, Any]) -> None:
        if push.get("action") != "camera" or self.data is None:
            return
        state = push["data"]
        cam = self.data.cameras.setdefault(state["name"], {"name": state["name"]})
        cam.update({k: v for k, v in state.items() if k != "motion"})
        cam["motion"] = {**(cam.get("motion") if isinstance(cam.get("motion"), dict) else {}),
                         "active": state["motion"]}
        self.async_update_listeners()  # not async_set_updated_data: keeps the stats timer

    @callback
    def _event_push(self, push: dict[str, Any]) -> None:
        if self.data is None:
            return
        action = push.get("action")
        if action == "mode":
            self.data.mode = push["data"]["mode"]
            self.async_update_listeners()
            return
        if action in EVENT_PUSHES:
            self.apply_event(action, push.get("data") or {})

    @callback
    def apply_event(self, kind: str, event: dict[str, Any]) -> None:
        """Apply one event change; fire `vigil_event` only for changes that matter.

        The change itself decides what is announced, not the push's kind: the engine's
        "escalate" and "update" pushes of one change, or a catch-up, announce it once.
        """
        camera = event.get("camera")
        event_id = event.get("id")
        if not camera or not event_id or self.data is None:
            return
        current = self.data.last_event.get(camera)
        if current is None or event["start_time"] >= current["start_time"] \
                or current.get("id") == event_id:
            self.data.last_event[camera] = event
        self._last_start = max(self._last_start, event.get("start_time") or 0.0)
        seen = self._seen.get(event_id)
        rank = level_rank(event.get("risk"))
        alert = bool(event.get("alert"))
        actions: list[str] = []
        ended = event.get("end_time") is not None
        if seen is None:
            # Unknown to HA: announce it if it is news (opened, or caught up after an
            # outage); a closed old event that is merely rescored is not a new one.
            if kind in ("new", "catch_up") or not ended:
                actions.append("new")
            elif kind == "escalate":
                actions.append("escalate")
        else:
            if _assessment(event) != seen.assessment and event.get("risk"):
                actions.append("assessed")
            # The engine's "escalate" push and its "update" carry the same change: the
            # first to arrive announces it, the other finds nothing new.
            if (seen.rank >= 0 and rank > seen.rank) or (alert and not seen.alert):
                actions.append("escalate")
        if ended and ("new" in actions or (seen is not None and not seen.ended)):
            actions.append("end")
        previous_level = seen.level if seen is not None else None
        self._remember(event)
        for action in actions:
            self._fire(action, event, previous_level)
        self.async_update_listeners()

    def _remember(self, event: dict[str, Any]) -> None:
        risk = event.get("risk") or {}
        self._seen[event["id"]] = Seen(_assessment(event), level_rank(risk),
                                       risk.get("risk_level"), bool(event.get("alert")),
                                       event.get("end_time") is not None)
        self._last_start = max(self._last_start, event.get("start_time") or 0.0)
        while len(self._seen) > TRACKED_EVENTS:
            self._seen.pop(next(iter(self._seen)))

    def _fire(self, action: str, event: dict[str, Any], previous_level: str | None) -> None:
        escalation = event.get("escalation")
        data: dict[str, Any] = {
            "action": action, "engine": self.instance_id,
            "entry_id": self.config_entry.entry_id, "id": event["id"],
            "event_id": event["id"], "camera": event["camera"],
            "labels": event.get("labels", []), "zones": event.get("zones", []),
            "start_time": event.get("start_time"), "end_time": event.get("end_time"),
            "alert": bool(event.get("alert")), "risk": event.get("risk"),
            "escalation": escalation,
        }
        if action == "escalate":
            # The engine's own record of this escalation when it is the current one.
            level = (event.get("risk") or {}).get("risk_level")
            data["previous_level"] = escalation.get("previous_level") \
                if escalation and escalation.get("level") == level else previous_level
        self.hass.bus.async_fire(EVENT_VIGIL, data)
        async_dispatcher_send(self.hass, signal_event(self.config_entry.entry_id), action, event)

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
        if not self._lost_at:
            # Where the catch-up must begin, fixed now: live pushes after the reconnect
            # move _last_start on before the catch-up runs.
            self._lost_at = time.time()
            open_starts = [ev["start_time"] for ev in (self.data.last_event.values()
                                                         if self.data else ())
                           if ev.get("end_time") is None]
            self._catch_up_since = min([self._last_start or self._lost_at - CLOCK_MARGIN,
                                        *open_starts])
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
    def _auth_failed(self) -> None:
        """The engine refused the stored token at runtime: ask the user for the new one."""
        if not (self.hass.is_stopping or self.client.closing):
            self.config_entry.async_start_reauth(self.hass)

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
        await self._catch_up()

    async def _catch_up(self) -> None:
        """Apply events that opened, changed or closed while the connection was down."""
        # Nothing seen before the outage: from the outage on (a margin for clock skew).
        since = self._catch_up_since
        self._lost_at = self._catch_up_since = 0.0
        if since <= 0:
            return
        missed: list[dict[str, Any]] = []
        cursor: str | None = None
        try:
            while len(missed) < CATCH_UP_LIMIT:
                fields: dict[str, Any] = {"since": since, "limit": 100}
                if cursor:
                    fields["cursor"] = cursor
                page = await self.client.command("events/list", **fields)
                missed.extend(page["events"])
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        except VigilError as err:
            _LOGGER.debug("Vigil catch-up after reconnect failed: %s", err)
            return
        for event in sorted(missed, key=lambda e: (e["start_time"], e["id"])):
            self.apply_event("catch_up", event)

    async def async_shutdown(self) -> None:
        for timer in (self._unreachable_timer, self._stats_timer):
            if timer is not None:
                timer()
        self._unreachable_timer = self._stats_timer = None
        await super().async_shutdown()
        await self.client.close()
