"""Everything the scorer should know about an event, gathered in one place.

The same context feeds the rules and the LLM prompt, so an LLM's answer can be
compared with the rules' on equal terms.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import datetime
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from ..config import CameraConfig, Config
from ..store.db import Store
from .sun import is_dark

ANIMALS = frozenset({"dog", "cat", "bird", "horse", "sheep", "cow", "bear"})
VEHICLES = frozenset({"car", "truck", "bus", "motorcycle", "bicycle"})
CROSS_CAMERA_SECONDS = 300.0
BASELINE_DAYS = 28


@dataclass(frozen=True)
class ZoneInfoCtx:
    name: str
    description: str
    sensitivity: str


@dataclass(frozen=True)
class ObjectContext:
    id: str
    label: str
    score: float
    zones: list[ZoneInfoCtx]
    dwell: float
    loitering: bool
    direction: str  # approaching | leaving | passing | still | unknown
    stationary: bool
    first_seen: float
    last_seen: float
    # Who Frigate recognised (its sub_label: a face, a known plate). A hint, not proof:
    # faces are misread and plates copied, so it lowers the risk but never clears it.
    recognised_as: str | None = None


@dataclass(frozen=True)
class Baseline:
    days_seen: int  # days (of the last BASELINE_DAYS) with this label here at this hour
    days_known: int  # days of history this camera has

    @property
    def usual(self) -> bool:
        return self.days_known >= 7 and self.days_seen / self.days_known >= 0.3

    @property
    def unusual(self) -> bool:
        return self.days_known >= 7 and self.days_seen == 0


@dataclass(frozen=True)
class CrossSighting:
    camera: str
    labels: list[str]
    seconds_before: float
    directions: list[str]


@dataclass(frozen=True)
class RiskContext:
    event_id: str
    camera: str
    camera_description: str
    start_time: float
    duration: float
    local_time: str  # "02:10"
    weekday: str
    is_night: bool
    arm_mode: str
    objects: list[ObjectContext]
    recent_events_hour: int
    recent_events_day: int
    baseline: dict[str, Baseline] = field(default_factory=dict)
    cross_camera: list[CrossSighting] = field(default_factory=list)
    snapshot: str | None = None  # path of the best snapshot, for vision models

    timezone: str = ""  # the camera's configured time zone (local_time is in it)

    @property
    def labels(self) -> set[str]:
        return {o.label for o in self.objects}

    def count(self, label: str) -> int:
        return most_at_once(self.objects, label)

    def for_prompt(self) -> dict[str, Any]:
        """What the LLM sees: facts only, no file paths or internal ids."""
        data = asdict(self)
        data.pop("snapshot", None)
        data.pop("event_id", None)
        for obj in data["objects"]:
            obj.pop("id", None)
            obj["dwell"] = round(obj["dwell"], 1)
            obj.pop("first_seen", None)
            obj.pop("last_seen", None)
            if obj.get("recognised_as") is None:
                obj.pop("recognised_as", None)  # most objects: no need to spend tokens
        data["duration"] = round(self.duration, 1)
        data["counts"] = {label: self.count(label) for label in sorted(self.labels)}
        data.pop("start_time", None)
        data["baseline"] = {k: {"days_seen_at_this_hour": v.days_seen, "days_of_history":
                                v.days_known} for k, v in self.baseline.items()}
        return data


def most_at_once(objects: list[ObjectContext], label: str) -> int:
    """How many of ``label`` were in view at the same time: what a person would count.

    Two people walking in and out of view repeatedly are many tracks but two people."""
    marks = sorted(mark for o in objects if o.label == label
                   for mark in ((o.first_seen, 1), (o.last_seen, -1)))
    # At equal times a departure sorts first: one who left as another came is one person.
    best = now = 0
    for _, step in marks:
        now += step
        best = max(best, now)
    return best


def direction_of(path: list[list[float]]) -> str:
    """From the bottom-centre path: cameras hang on the house, so 'down' is approaching."""
    if len(path) < 2:
        return "unknown"
    _, x0, y0 = path[0][:3]
    _, x1, y1 = path[-1][:3]
    dx, dy = x1 - x0, y1 - y0
    if abs(dy) >= 15 and abs(dy) >= 0.5 * abs(dx):
        return "approaching" if dy > 0 else "leaving"
    if abs(dx) >= 30:
        return "passing"
    return "still"


def _parse_clock(s: str) -> dtime:
    h, m = s.split(":")
    return dtime(int(h), int(m))


def in_window(t: dtime, start: str, end: str) -> bool:
    a, b = _parse_clock(start), _parse_clock(end)
    return a <= t < b if a <= b else (t >= a or t < b)


class ContextBuilder:
    def __init__(self, config: Config, store: Store) -> None:
        self.config = config
        self.store = store
        loc = config.location
        self.tz = ZoneInfo(loc.timezone) if loc.timezone else None

    def local(self, ts: float) -> datetime:
        return datetime.fromtimestamp(ts, self.tz).astimezone(self.tz)

    def is_night(self, ts: float) -> bool:
        loc = self.config.location
        when = self.local(ts)
        if loc.latitude is not None and loc.longitude is not None:
            return is_dark(when, loc.latitude, loc.longitude)
        return in_window(when.time(), loc.night_start, loc.night_end)

    async def arm_mode(self) -> str:
        value = await self.store.read(lambda c: c.execute(
            "SELECT value FROM meta WHERE key = 'arm_mode'").fetchone())
        return str(value[0]) if value else "home"

    async def build(self, camera: CameraConfig, event: dict[str, Any],
                    snapshot: str | None = None) -> RiskContext:
        start = float(event["start_time"])
        end = float(event["end_time"] or max(
            [o.get("last_seen", start) for o in event["objects"]] or [start]))
        objects = []
        for o in event["objects"]:
            zones = [ZoneInfoCtx(z, camera.zones[z].description, camera.zones[z].sensitivity)
                     for z in o.get("zones", []) if z in camera.zones]
            objects.append(ObjectContext(
                id=o["id"], label=o["label"], score=float(o.get("top_score", 0.0)), zones=zones,
                dwell=float(o.get("last_seen", start) - o.get("first_seen", start)),
                loitering=bool(o.get("loitering")), direction=direction_of(o.get("path", [])),
                stationary=bool(o.get("stationary")), first_seen=float(o.get("first_seen", start)),
                last_seen=float(o.get("last_seen", start)),
                recognised_as=o.get("sub_label") or None))
        labels = sorted({o.label for o in objects})
        stats = await self.store.read(lambda c: self._history(c, camera.name, event["id"],
                                                             start, labels))
        local = self.local(start)
        return RiskContext(
            event_id=event["id"], camera=camera.name, camera_description=camera.description,
            start_time=start, duration=max(0.0, end - start), local_time=local.strftime("%H:%M"),
            weekday=local.strftime("%A"), is_night=self.is_night(start),
            arm_mode=await self.arm_mode(), objects=objects,
            recent_events_hour=stats["hour"], recent_events_day=stats["day"],
            baseline=stats["baseline"], cross_camera=stats["cross"], snapshot=snapshot,
            timezone=self.config.location.timezone or local.strftime("%Z"))

    def _history(self, c: sqlite3.Connection, camera: str, event_id: str, start: float,
                 labels: list[str]) -> dict[str, Any]:
        hour = c.execute("SELECT COUNT(*) FROM events WHERE camera = ? AND id != ? AND "
                         "start_time BETWEEN ? AND ?",
                         (camera, event_id, start - 3600, start)).fetchone()[0]
        day = c.execute("SELECT COUNT(*) FROM events WHERE camera = ? AND id != ? AND "
                        "start_time BETWEEN ? AND ?",
                        (camera, event_id, start - 86400, start)).fetchone()[0]
        first = c.execute("SELECT MIN(start_time) FROM events WHERE camera = ? AND id != ?",
                          (camera, event_id)).fetchone()[0]
        days_known = 0 if first is None else min(BASELINE_DAYS, int((start - first) // 86400))
        local_hour = self.local(start).hour
        baseline: dict[str, Baseline] = {}
        for label in labels:
            rows = c.execute(
                "SELECT start_time FROM events WHERE camera = ? AND id != ? AND start_time "
                "BETWEEN ? AND ? AND EXISTS (SELECT 1 FROM json_each(events.labels) "
                "WHERE value = ?) LIMIT 20000",
                (camera, event_id, start - BASELINE_DAYS * 86400, start - 1800, label)).fetchall()
            days = set()
            for (ts,) in rows:
                lt = self.local(ts)
                if min(abs(lt.hour - local_hour), 24 - abs(lt.hour - local_hour)) <= 1:
                    days.add(lt.date())
            baseline[label] = Baseline(len(days), days_known)
        cross: list[CrossSighting] = []
        if labels:
            marks = ",".join("?" * len(labels))
            rows = c.execute(
                "SELECT camera, labels, objects, start_time FROM events WHERE camera != ? AND "
                "start_time BETWEEN ? AND ? AND EXISTS (SELECT 1 FROM json_each(events.labels) "
                f"WHERE value IN ({marks})) ORDER BY start_time DESC LIMIT 10",
                (camera, start - CROSS_CAMERA_SECONDS, start + 5, *labels)).fetchall()
            for cam, lab, objs, ts in rows:
                dirs = sorted({direction_of(o.get("path", [])) for o in json.loads(objs)})
                cross.append(CrossSighting(cam, json.loads(lab), round(start - ts, 1), dirs))
        return {"hour": hour, "day": day, "baseline": baseline, "cross": cross}
