"""Turns tracked objects into events for one camera.

An event is a period of activity: it opens when a confirmed object that may
open one appears (anything moving, or a person even standing still), gathers
every object seen meanwhile, and closes after ``idle_timeout`` without
activity or at ``max_length``; then a follow-on event carries everyone still
present. Every change is in SQLite before it is published (with its
escalation, when it got worse); snapshots are on disk before the row says so.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..capture.source import Frame
from ..config import CameraConfig
from ..risk.escalation import escalation_of
from ..store.db import Store
from ..track.tracker import STATIONARY_RECHECK, TrackedObject, TrackUpdate

if TYPE_CHECKING:
    from ..risk.service import RiskService
from .bus import EventBus
from .snapshots import BestFrame, BoxInFrame, SnapshotWriter, encode_view, frame_quality

_LOGGER = logging.getLogger(__name__)

FLUSH_INTERVAL = 2.0  # seconds between row updates of an open event
SNAPSHOT_INTERVAL = 3.0  # seconds between snapshot rewrites of an open event
SNAPSHOT_GAIN = 1.1  # a better view replaces the written one when this much better
LABEL_PRIORITY = {"person": 1.25}


def object_dict(t: TrackedObject) -> dict[str, Any]:
    return {
        "id": t.id,
        "label": t.label,
        "top_score": round(t.top_score, 3),
        "score": round(t.score, 3),
        "zones": list(t.entered_zones),
        "first_seen": round(t.first_seen, 3),
        "last_seen": round(t.last_seen, 3),
        "dwell": round(t.last_seen - t.first_seen, 1),
        "stationary": t.stationary,
        "loitering": t.loitering,
        "loitering_zones": list(t.loitering_zones),
        "box": list(t.box),
        "path": [list(p) for p in t.path],
    }


@dataclass
class OpenEvent:
    id: str
    start_time: float
    members: dict[str, TrackedObject] = field(default_factory=dict)
    frozen: dict[str, dict[str, Any]] = field(default_factory=dict)  # members no longer tracked
    last_activity: float = 0.0
    last_flush: float = 0.0
    last_snapshot: float = 0.0
    snapshot_quality: float = 0.0
    snapshot_written: dict[str, float] = field(default_factory=dict)  # object id -> quality
    dirty: bool = False
    llm_requested: bool = False  # the one intermediate LLM assessment of a long event
    opened_at: float = field(default_factory=time.time)  # wall clock when the pipeline opened it


class EventManager:
    def __init__(self, camera: CameraConfig, store: Store, bus: EventBus,
                 snapshots: SnapshotWriter, risk: RiskService | None = None) -> None:
        self.camera = camera
        self.name = camera.name
        self.idle_timeout = camera.events.idle_timeout
        self.max_length = camera.events.max_length
        self.store = store
        self.bus = bus
        self.snapshots = snapshots
        self.current: OpenEvent | None = None
        self.best: dict[str, BestFrame] = {}  # per tracked object
        self.opened = 0
        self.risk = risk
        self.risk_enabled = True
        self.open_to_risk_ms = 0.0  # event opened -> first assessment attached
        self.open_to_announce_ms = 0.0  # event opened -> row written (snapshot, risk)
        self.last_end = 0.0

    # ------------------------------------------------------------------ per frame

    async def process(self, frame: Frame, update: TrackUpdate) -> None:
        now = update.time
        self._remember_best(frame, update)
        departed: list[str] = []
        for t in update.removed:
            if self.current and t.id in self.current.members:
                self.current.frozen[t.id] = object_dict(t)
                del self.current.members[t.id]
                self.current.dirty = True
                departed.append(t.id)
            else:
                self.best.pop(t.id, None)
        if departed and self.current is not None:
            # Write what the departed objects can still add to the snapshots, then let
            # their frames go: a long, busy event must not pin a frame per passer-by.
            await self._write_snapshots(self.current, now, departed=departed)
            for oid in departed:
                self.best.pop(oid, None)

        ev = self.current
        if ev is not None:
            for t in update.seen:
                if t.relevant and t.id not in ev.members and t.id not in ev.frozen:
                    ev.members[t.id] = t
                    t.event_id = ev.id
                    ev.dirty = True
            for t in ev.members.values():
                if t.keeps_event_alive:
                    # A person standing still is only looked at every few seconds; while
                    # the tracker has not missed them they are there now.
                    present = t.stationary and t.missing_since is None
                    ev.last_activity = max(ev.last_activity, now if present else t.last_seen)
                if t in update.seen:
                    ev.dirty = True
            if now - ev.last_activity >= self.idle_timeout:
                await self.close(ev.last_activity)
            elif now - ev.start_time >= self.max_length:
                # Activity that outlasts max_length goes on in a follow-on event with
                # everyone still there (a person standing still, too).
                carry = [t for t in update.present if t.relevant and t.missing_since is None
                         and now - t.last_seen <= 2 * STATIONARY_RECHECK]
                goes_on = any(t.keeps_event_alive for t in carry)
                await self.close(now, carried=[t.id for t in carry] if goes_on else ())
                if goes_on:
                    self._remember_best(frame, update)
                    await self._open(carry, now)
            elif ev.dirty and now - ev.last_flush >= FLUSH_INTERVAL:
                await self._flush(ev, now, "update")
            if (self.current is ev and self.risk is not None and self.risk_enabled
                    and not ev.llm_requested and now - ev.start_time >= self.risk.cfg.batch_window):
                ev.llm_requested = True
                await self.risk.event_long(ev.id)

        if self.current is None:
            starters = [t for t in update.seen if t.keeps_event_alive]
            if starters:
                self._remember_best(frame, update)
                await self._open(starters, now)

    async def tick(self, now: float) -> None:
        """Without frames, an open event still ends after idle_timeout or max_length."""
        ev = self.current
        if ev is None:
            return
        if now - ev.last_activity >= self.idle_timeout:
            await self.close(ev.last_activity)
        elif now - ev.start_time >= self.max_length:
            await self.close(now)

    @property
    def frames_held(self) -> int:
        """Decoded frames held for snapshots not yet written (1.3 MB each at 768x576)."""
        return len({id(b.rgb) for b in self.best.values() if b.rgb is not None})

    def _remember_best(self, frame: Frame, update: TrackUpdate) -> None:
        confirmed = [t for t in update.seen if t.confirmed]
        if not confirmed or frame.rgb is None:
            return
        boxes = tuple(BoxInFrame(t.id, t.label, t.scores[-1], t.box) for t in confirmed)
        frame_area = frame.rgb.shape[0] * frame.rgb.shape[1]
        # Only objects that can be part of an event keep a frame in memory
        # (a parked car that never moved would otherwise pin one forever).
        views = [(t, frame_quality(t.scores[-1], t.area, frame_area))
                 for t in confirmed if t.relevant]
        pinned = False
        for t, q in views:
            best = self.best.get(t.id)
            # A view already on disk gives way only to a clearly better one, as a written
            # snapshot does: in a crowd, every wobble of a score up would pin a whole
            # frame per person until they left.
            if best is None or q > best.quality * (1.0 if best.rgb is not None
                                                   else SNAPSHOT_GAIN):
                self.best[t.id] = BestFrame(q, frame.time, frame.rgb, boxes)
                pinned = True
        if not pinned:
            return
        # This frame is held now: the others in it whose view not yet written is in an
        # older frame move here when this one is as good (within the 10 % a written
        # snapshot ignores too), so that the older frame can go. In a crowd each
        # person's best came from a different frame: 4 cameras held up to 11.
        for t, q in views:
            best = self.best[t.id]
            if (best.rgb is not None and best.rgb is not frame.rgb
                    and q * SNAPSHOT_GAIN >= best.quality):
                self.best[t.id] = BestFrame(q, frame.time, frame.rgb, boxes)

    # ------------------------------------------------------------------ lifecycle

    async def _open(self, starters: list[TrackedObject], now: float) -> None:
        # Activity that outlasted max_length continues in a new event from where the old ended.
        start = max(min(t.first_seen for t in starters), self.last_end)
        ev = OpenEvent(id=f"{int(start * 1000)}-{secrets.token_hex(3)}", start_time=start)
        for t in starters:
            ev.members[t.id] = t
            t.event_id = ev.id
        ev.last_activity = max(t.last_seen for t in starters if t.keeps_event_alive)
        self.current = ev
        self.opened += 1
        await self._flush(ev, now, "new")
        _LOGGER.info("%s: event %s opened (%s)", self.name, ev.id,
                     ", ".join(sorted({t.label for t in starters})))

    async def close(self, end_time: float, carried: Collection[str] = ()) -> None:
        """End the open event. ``carried``: objects going on in a follow-on event keep their
        best views (a better one still replaces them), so the follow-on is announced with
        a snapshot even when the sample that closed this event did not look at them."""
        ev = self.current
        if ev is None:
            return
        self.last_end = end_time
        for t in ev.members.values():
            if t.event_id == ev.id:
                t.event_id = None
        await self._flush(ev, end_time, "end", end_time=end_time)
        # Only now is it over for API readers too: no "no event open" before the row says so.
        self.current = None
        if self.risk is not None and self.risk_enabled:
            await self.risk.event_closed(ev.id)  # its job was queued with the closing row
        for oid in [*ev.members, *ev.frozen]:
            if oid not in carried:
                self.best.pop(oid, None)  # the next event gets fresh snapshots
        _LOGGER.info("%s: event %s closed after %.1f s", self.name, ev.id,
                     end_time - ev.start_time)

    def _objects(self, ev: OpenEvent) -> list[dict[str, Any]]:
        objs = [*ev.frozen.values(), *(object_dict(t) for t in ev.members.values())]
        return sorted(objs, key=lambda o: (o["first_seen"], o["id"]))

    def event_dict(self, ev: OpenEvent, end_time: float | None = None,
                   has_snapshot: bool = False) -> dict[str, Any]:
        objects = self._objects(ev)
        return {
            "id": ev.id,
            "camera": self.name,
            "start_time": round(ev.start_time, 3),
            "end_time": None if end_time is None else round(end_time, 3),
            "labels": sorted({o["label"] for o in objects}),
            "zones": sorted({z for o in objects for z in o["zones"]}),
            "objects": objects,
            "top_score": max((o["top_score"] for o in objects), default=0.0),
            "has_snapshot": has_snapshot,
            "has_clip": False,
            "risk": None,
            "alert": False,
            "alert_reason": "",
            "acknowledged": False,
            "protected": False,
            "escalation": None,
        }

    async def _flush(self, ev: OpenEvent, now: float, kind: str,
                     end_time: float | None = None) -> None:
        started = time.perf_counter()
        has_snapshot = await self._write_snapshots(ev, now, force=kind != "update")
        event = self.event_dict(ev, end_time, has_snapshot)
        if self.risk is not None and self.risk_enabled:
            # Alert first: the rules assessment rides along with the event itself.
            risk_started = time.perf_counter()
            event["risk"], event["alert"], event["alert_reason"] = await self.risk.fast(
                self.camera, event)
            if kind == "new":
                self.open_to_risk_ms = (time.perf_counter() - risk_started) * 1000
        also = None
        if kind == "end" and self.risk is not None and self.risk_enabled:
            also = self.risk.closing_job(ev.id)  # queued in the transaction that closes it
        # Durable before anyone hears of it, escalation included.
        stored, escalated = await self.store.upsert_event(event, also=also,
                                                          escalate=escalation_of)
        if kind == "new":
            self.open_to_announce_ms = (time.perf_counter() - started) * 1000
        ev.last_flush = now
        ev.dirty = False
        stored = stored or event
        if kind == "new":
            stored["opened_at"] = ev.opened_at  # lets clients measure alert latency
        self.bus.publish(kind, stored)  # type: ignore[arg-type]
        if escalated:
            self.bus.publish("escalate", stored)

    async def _write_snapshots(self, ev: OpenEvent, now: float, force: bool = False,
                               departed: Collection[str] = ()) -> bool:
        """Write the event's and its objects' best views so far.

        ``force`` (the event opens or ends) writes every improvement; ``departed`` objects
        get their last chance. Otherwise, every SNAPSHOT_INTERVAL, only a view at least
        SNAPSHOT_GAIN better replaces the one written: in a crowd the scores wobble, and
        rewriting two full-frame JPEGs (fsynced) per person per wobble cost about 7 % of
        a core on the busy vtest footage."""
        if (not (force or departed) and ev.snapshot_quality > 0
                and now - ev.last_snapshot < SNAPSHOT_INTERVAL):
            return True  # an event without a snapshot yet gets one at once
        ids = [*ev.members, *ev.frozen]
        candidates = [(oid, self.best[oid]) for oid in ids if oid in self.best]
        if not candidates:
            return ev.snapshot_quality > 0
        labels = {oid: t.label for oid, t in ev.members.items()}
        labels.update({oid: o["label"] for oid, o in ev.frozen.items()})

        def rank(item: tuple[str, BestFrame]) -> float:
            return item[1].quality * LABEL_PRIORITY.get(labels.get(item[0], ""), 1.0)

        best_id, best = max(candidates, key=rank)
        jobs: list[tuple[str | None, BestFrame]] = []
        gain = 1.0 if force else SNAPSHOT_GAIN
        had_snapshot = ev.snapshot_quality
        event_job = rank((best_id, best)) > ev.snapshot_quality * gain
        if event_job:
            jobs.append((None, best))
            ev.snapshot_quality = rank((best_id, best))
        if departed:  # their last chance; the others wait for the next interval
            objects, need = [c for c in candidates if c[0] in departed], 1.0
        else:
            objects, need = candidates, gain
            ev.last_snapshot = now
        for oid, frame in objects:
            if frame.quality > ev.snapshot_written.get(oid, 0.0) * need:
                jobs.append((oid, frame))
                ev.snapshot_written[oid] = frame.quality
        if event_job and best.rgb is not None and all(oid != best_id for oid, _ in jobs):
            # A frame encoded for the event is written as its object's snapshot too: the
            # object's files are where a written view is kept, and the frame can go.
            jobs.append((best_id, best))
            ev.snapshot_written[best_id] = best.quality
        if jobs:
            written = await asyncio.to_thread(self._write_jobs, ev.id, best_id, jobs)
            for oid, (view, files) in written.items():
                if files is None and event_job and oid == best_id:
                    ev.snapshot_quality = had_snapshot  # the event's was not written either
                if self.best.get(oid) is not view:
                    continue
                if files is None:  # gone: the next sighting gives it a new view
                    del self.best[oid]
                    ev.snapshot_written.pop(oid, None)
                else:  # on disk now: let the frame go, keep where it was written
                    self.best[oid] = replace(view, rgb=None, files=files)
        return ev.snapshot_quality > 0

    def _write_jobs(self, event_id: str, best_id: str, jobs: list[tuple[str | None, BestFrame]]
                    ) -> dict[str, tuple[BestFrame, tuple[Path, Path] | None]]:
        """Write the jobs' files, each view encoded once (its JPEGs serve as the object's
        snapshot and, for the best, the event's); returns where each object's view now
        is, or None for a written view whose files were deleted meanwhile (with its old
        event): that view is skipped."""
        encoded: dict[str, tuple[bytes, bytes] | None] = {}
        where: dict[str, tuple[BestFrame, tuple[Path, Path] | None]] = {}
        for oid, view in jobs:
            owner = best_id if oid is None else oid
            if owner not in encoded:  # the event's best is also that object's own job
                try:
                    encoded[owner] = encode_view(view, owner)
                except OSError as err:
                    _LOGGER.info("%s: the snapshot of %s is gone (%s); its next sighting "
                                 "gives it a new one", self.name, owner, err)
                    encoded[owner] = None
                    where[owner] = (view, None)
            jpegs = encoded[owner]
            if jpegs is None:
                continue
            if oid is None:
                self.snapshots.write_event(self.name, event_id, jpegs)
            else:
                where[oid] = (view, self.snapshots.write_object(self.name, event_id, oid,
                                                                jpegs))
        return where
