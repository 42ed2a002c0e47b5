"""Media source: engines -> cameras -> days -> events -> clip, and
engines -> Recordings -> cameras -> days -> hours (continuous footage).

Days are listed from an engine-side summary and events are fetched one day at
a time, so browsing months of history stays fast. An hour of footage plays as
an MP4 the engine remuxes from its segments, proxied through a signed URL.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from homeassistant.components.http.auth import async_sign_path
from homeassistant.components.media_player import MediaClass, MediaType
from homeassistant.components.media_source import (
    BrowseMediaSource,
    MediaSource,
    MediaSourceItem,
    PlayMedia,
    Unresolvable,
)
from homeassistant.config_entries import ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.util import dt as dt_util

from .client import VigilError
from .const import DOMAIN
from .coordinator import VigilCoordinator
from .views import media_path

MAX_EVENTS_PER_DAY = 500
REC = "rec:"  # camera names are [a-z0-9_]: a colon never clashes with one
SIGN_FOR = timedelta(hours=6)


async def async_get_media_source(hass: HomeAssistant) -> MediaSource:
    return VigilMediaSource(hass)


class VigilMediaSource(MediaSource):
    name = "Vigil"

    def __init__(self, hass: HomeAssistant) -> None:
        super().__init__(DOMAIN)
        self.hass = hass

    def _coordinator(self, entry_id: str) -> VigilCoordinator:
        entry = self.hass.config_entries.async_get_entry(entry_id)
        if entry is None or entry.domain != DOMAIN or entry.state is not ConfigEntryState.LOADED:
            raise Unresolvable(f"Vigil engine {entry_id} is not loaded")
        coordinator: VigilCoordinator = entry.runtime_data
        return coordinator

    async def async_resolve_media(self, item: MediaSourceItem) -> PlayMedia:
        parts = (item.identifier or "").split("/")
        if len(parts) == 4 and parts[1].startswith(REC):
            return await self._resolve_hour(parts[0], parts[1][len(REC):], parts[2], parts[3])
        if len(parts) != 4:
            raise Unresolvable(f"not a Vigil event: {item.identifier}")
        entry_id, _camera, _day, event_id = parts
        coordinator = self._coordinator(entry_id)
        try:
            event = await coordinator.client.command("events/get", event_id=event_id)
        except VigilError as err:
            raise Unresolvable(f"event {event_id}: {err}") from err
        if not event.get("has_clip"):
            raise Unresolvable(f"event {event_id} has no clip")
        url = async_sign_path(self.hass, media_path(entry_id, "clip", f"{event_id}.mp4"),
                              SIGN_FOR)
        return PlayMedia(url, "video/mp4")

    async def async_browse_media(self, item: MediaSourceItem) -> BrowseMediaSource:
        parts = [p for p in (item.identifier or "").split("/") if p]
        if not parts:
            return self._root()
        coordinator = self._coordinator(parts[0])
        try:
            if len(parts) == 1:
                return self._engine(parts[0], coordinator)
            if parts[1].startswith(REC):
                return await self._recordings(parts[0], coordinator, parts[1][len(REC):],
                                              parts[2] if len(parts) == 3 else None)
            if len(parts) == 2:
                return await self._camera(parts[0], coordinator, parts[1])
            if len(parts) == 3:
                return await self._day(parts[0], coordinator, parts[1], parts[2])
        except VigilError as err:
            raise Unresolvable(f"Vigil engine: {err}") from err
        raise Unresolvable(f"unknown Vigil media item: {item.identifier}")

    def _folder(self, identifier: str, title: str, children: list[BrowseMediaSource] | None = None,
                thumbnail: str | None = None) -> BrowseMediaSource:
        return BrowseMediaSource(
            domain=DOMAIN, identifier=identifier, media_class=MediaClass.DIRECTORY,
            media_content_type=MediaType.VIDEO, title=title, can_play=False, can_expand=True,
            children=children, children_media_class=MediaClass.DIRECTORY, thumbnail=thumbnail)

    def _root(self) -> BrowseMediaSource:
        children = [self._folder(e.entry_id, e.title)
                    for e in self.hass.config_entries.async_entries(DOMAIN)
                    if e.state is ConfigEntryState.LOADED]
        root = self._folder("", "Vigil", children)
        return root

    def _engine(self, entry_id: str, coordinator: VigilCoordinator) -> BrowseMediaSource:
        children = [self._folder(f"{entry_id}/{name}", name.replace("_", " ").title())
                    for name in sorted(coordinator.data.cameras)]
        children.insert(0, self._folder(f"{entry_id}/{REC}", "Recordings"))
        return self._folder(entry_id, coordinator.config_entry.title, children)

    async def _recordings(self, entry_id: str, coordinator: VigilCoordinator, camera: str,
                          day: str | None) -> BrowseMediaSource:
        """Recordings -> cameras -> days with footage -> hours with footage."""
        ident = f"{entry_id}/{REC}{camera}"
        if not camera:
            return self._folder(ident, "Recordings", [
                self._folder(f"{ident}{name}", name.replace("_", " ").title())
                for name in sorted(coordinator.data.cameras)])
        if day is None:
            days = await coordinator.client.command("recordings/days", camera=camera, days=90)
            return self._folder(ident, camera.replace("_", " ").title(), [
                self._folder(f"{ident}/{d['date']}",
                             f"{d['date']} ({d['seconds'] / 3600:.1f} h recorded)")
                for d in days])
        children = [BrowseMediaSource(
            domain=DOMAIN, identifier=f"{ident}/{day}/{int(start)}",
            media_class=MediaClass.VIDEO, media_content_type="video/mp4",
            title=f"{dt_util.as_local(dt_util.utc_from_timestamp(start)):%H:%M}"
                  f" ({covered / 60:.0f} min)",
            can_play=True, can_expand=False)
            for start, _end, covered in await self._hours(coordinator, camera, day)]
        return self._folder(f"{ident}/{day}", day, children)

    async def _hours(self, coordinator: VigilCoordinator, camera: str,
                     day: str) -> list[tuple[float, float, float]]:
        """(start, end, recorded seconds) of each hour of an engine-local day with footage."""
        tl = await coordinator.client.command("recordings/timeline", camera=camera, date=day)
        hours = []
        start = tl["start"]
        while start < tl["end"]:
            end = min(start + 3600, tl["end"])
            covered = sum(max(0.0, min(end, s["end"]) - max(start, s["start"]))
                          for s in tl["spans"])
            if covered >= 1:
                hours.append((start, end, covered))
            start = end
        return hours

    async def _resolve_hour(self, entry_id: str, camera: str, day: str,
                            hour: str) -> PlayMedia:
        coordinator = self._coordinator(entry_id)
        try:
            hours = await self._hours(coordinator, camera, day)
        except VigilError as err:
            raise Unresolvable(f"recordings of {camera} on {day}: {err}") from err
        match = next(((s, e) for s, e, _c in hours if str(int(s)) == hour), None)
        if match is None:
            raise Unresolvable(f"no footage of {camera} in that hour")
        url = async_sign_path(self.hass, media_path(
            entry_id, "export", f"{camera}-{match[0]:.0f}-{match[1]:.0f}.mp4"), SIGN_FOR)
        return PlayMedia(url, "video/mp4")

    async def _camera(self, entry_id: str, coordinator: VigilCoordinator,
                      camera: str) -> BrowseMediaSource:
        days = await coordinator.client.command("events/days", camera=camera, days=90)
        children = [self._folder(f"{entry_id}/{camera}/{d['date']}",
                                 f"{d['date']} ({d['count']} events)") for d in days]
        return self._folder(f"{entry_id}/{camera}", camera.replace("_", " ").title(), children)

    async def _day(self, entry_id: str, coordinator: VigilCoordinator, camera: str,
                   day: str) -> BrowseMediaSource:
        # Days are the engine's local days; it tells where each begins and ends.
        days = await coordinator.client.command("events/days", camera=camera, days=3650)
        match = next((d for d in days if d["date"] == day), None)
        if match is None:
            raise Unresolvable(f"no events on {day}")
        since, until = match["start"], match["end"]
        events: list[dict[str, Any]] = []
        cursor = None
        while len(events) < MAX_EVENTS_PER_DAY:
            fields: dict[str, Any] = {"camera": camera, "since": since, "until": until,
                                      "limit": 100}
            if cursor:
                fields["cursor"] = cursor
            page = await coordinator.client.command("events/list", **fields)
            events.extend(page["events"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        children = [self._event(entry_id, camera, day, e) for e in events]
        return self._folder(f"{entry_id}/{camera}/{day}", day, children)

    def _event(self, entry_id: str, camera: str, day: str,
               event: dict[str, Any]) -> BrowseMediaSource:
        risk = event.get("risk") or {}
        when = dt_util.as_local(dt_util.utc_from_timestamp(event["start_time"]))
        level = risk.get("risk_level", "unscored")
        summary = risk.get("summary") or ", ".join(event.get("labels", []))
        thumb = None
        if event.get("has_snapshot"):
            thumb = async_sign_path(self.hass, media_path(entry_id, "snapshot",
                                                          f"{event['id']}.jpg"), SIGN_FOR)
        return BrowseMediaSource(
            domain=DOMAIN, identifier=f"{entry_id}/{camera}/{day}/{event['id']}",
            media_class=MediaClass.VIDEO, media_content_type="video/mp4",
            title=f"{when:%H:%M:%S} {level} - {summary}", can_play=bool(event.get("has_clip")),
            can_expand=False, thumbnail=thumb)
