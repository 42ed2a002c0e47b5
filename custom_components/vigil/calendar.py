"""A calendar of notable security events (medium risk and up, or alerted), read from
the engine's own event store: no second database."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from homeassistant.components.calendar import CalendarEntity, CalendarEvent
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.util import dt as dt_util

from . import VigilConfigEntry
from .client import VigilError
from .const import DOMAIN, RISK_LEVELS
from .coordinator import VigilCoordinator, level_rank
from .entity import AddEntities, VigilEntity

PARALLEL_UPDATES = 0
NOTABLE_LEVEL = "medium"
MAX_EVENTS = 2000  # per calendar view
OPEN_EVENT_HORIZON = timedelta(minutes=1)


async def async_setup_entry(hass: HomeAssistant, entry: VigilConfigEntry,
                            async_add_entities: AddEntities) -> None:
    async_add_entities([NotableEventsCalendar(entry.runtime_data)])


def notable(event: dict[str, Any]) -> bool:
    return bool(event.get("alert")) or \
        level_rank(event.get("risk")) >= RISK_LEVELS.index(NOTABLE_LEVEL)


def to_calendar_event(event: dict[str, Any]) -> CalendarEvent:
    risk = event.get("risk") or {}
    start = dt_util.utc_from_timestamp(event["start_time"])
    end_ts = event.get("end_time")
    # An open event runs "until a minute from now": the calendar then looks again in a
    # minute (an end of exactly now would have it re-schedule itself without pause).
    end = dt_util.utc_from_timestamp(end_ts) if end_ts else \
        dt_util.utcnow().replace(microsecond=0) + OPEN_EVENT_HORIZON
    end = max(end, start + timedelta(seconds=1))
    camera = event["camera"].replace("_", " ").title()
    what = risk.get("activity_type") or ", ".join(event.get("labels", [])) or "activity"
    level = risk.get("risk_level", "unscored")
    lines = [risk.get("summary") or "", f"Risk: {level} ({risk.get('risk_score', '?')})"]
    if event.get("alert"):
        lines.append("Alert raised")
    if event.get("zones"):
        lines.append("Zones: " + ", ".join(event["zones"]))
    return CalendarEvent(start=start, end=end, summary=f"{camera}: {what} ({level})",
                         description="\n".join(line for line in lines if line),
                         location=camera, uid=event["id"])


class NotableEventsCalendar(VigilEntity, CalendarEntity):
    def __init__(self, coordinator: VigilCoordinator) -> None:
        super().__init__(coordinator, "notable_events")

    @property
    def event(self) -> CalendarEvent | None:
        """The newest notable event (the calendar is on while it is open)."""
        latest = [e for e in self.coordinator.data.last_event.values() if notable(e)]
        if not latest:
            return None
        return to_calendar_event(max(latest, key=lambda e: e["start_time"]))

    async def async_get_events(self, hass: HomeAssistant, start_date: datetime,
                               end_date: datetime) -> list[CalendarEvent]:
        events: list[dict[str, Any]] = []
        cursor: str | None = None
        # An event that began up to an hour before the window may still run into it.
        since = start_date.timestamp() - 3600
        try:
            while len(events) < MAX_EVENTS:
                fields: dict[str, Any] = {"since": since, "until": end_date.timestamp(),
                                          "limit": 500}
                if cursor:
                    fields["cursor"] = cursor
                page = await self.coordinator.client.command("events/list", **fields)
                events.extend(page["events"])
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        except VigilError as err:
            raise HomeAssistantError(translation_domain=DOMAIN, translation_key="engine_error",
                                     translation_placeholders={"error": str(err)}) from err
        found = [to_calendar_event(e) for e in reversed(events) if notable(e)]
        return [e for e in found if e.end > start_date and e.start < end_date]
