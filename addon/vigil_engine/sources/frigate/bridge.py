"""One Frigate server: its MQTT events become Vigil events, its clips Vigil's footage.

Alert first: an object that passes the filters opens a Vigil event at Frigate's
``new`` (or the first ``update`` that passes, e.g. on entering a zone) through
the same rules/alert/push path as Vigil's own cameras. ``end`` closes it, fetches
the snapshot and clip, and hands it to the risk scorer (one LLM call per event).

Nothing is lost: the index row and the event row are written together; a
duplicate ``end`` finds the row already ended; a clip Frigate cannot serve right
now is retried by a durable job (``frigate_events.clip_status = pending``) until
it arrives or Frigate says it never will (404 / ``has_clip: false``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiomqtt

from ...config import (
    AlertConfig,
    CameraConfig,
    DetectConfig,
    EventsConfig,
    FrigateConfig,
    MotionConfig,
    ObjectsConfig,
    ZoneConfig,
)
from ...events.snapshots import write_atomic
from ...mqtt.tls import tls_context
from ...risk.escalation import escalation_of
from ...store.frigate import FrigateIndex, FrigateRow
from .confirm import confirms
from .http import FrigateGone, FrigateHttp, FrigateUnavailable
from .payload import BadPayload, FrigateMessage, FrigateObject, parse

if TYPE_CHECKING:
    from ...app import Engine

_LOGGER = logging.getLogger(__name__)

VERSION_CHECK_SECONDS = 30.0
CLIP_RETRY_BASE = 2.0
CLIP_RETRY_MAX = 600.0
CLIP_WORKER_TICK = 1.0
MAX_FINISHING = 4  # clip downloads at once per server


def vigil_name(camera: str) -> str:
    """Frigate allows names Vigil does not (capitals, dashes): fold them."""
    name = re.sub(r"[^a-z0-9_]", "_", camera.lower()).strip("_")[:63]
    return name or "camera"


def redact_url(url: str) -> str:
    """``http://user:pass@host`` -> ``http://host``: credentials never leave the engine."""
    return re.sub(r"^(\w+://)[^/@]*@", r"\1", url)


def event_id_for(server: str, obj: FrigateObject) -> str:
    digest = hashlib.sha1(f"{server}/{obj.id}".encode()).hexdigest()
    return f"{int(obj.start_time * 1000)}-{digest[:6]}"


def object_id_for(server: str, obj: FrigateObject) -> str:
    return hashlib.sha1(f"{server}/{obj.id}/object".encode()).hexdigest()[:8]


@dataclass
class BridgeStats:
    messages: int = 0
    events_opened: int = 0
    filtered: Counter[str] = field(default_factory=Counter)
    bad: Counter[str] = field(default_factory=Counter)
    duplicates: int = 0
    dismissed: Counter[str] = field(default_factory=Counter)
    clips: int = 0
    clip_failures: int = 0
    clip_gone: int = 0
    descriptions: int = 0
    reconnects: int = 0
    new_to_push_ms: float = 0.0


@dataclass
class FrigateCamera:
    name: str  # Vigil's
    frigate_name: str
    config: CameraConfig
    open_events: dict[str, str] = field(default_factory=dict)  # event id -> label
    last_event: float | None = None


class FrigateBridge:
    def __init__(self, cfg: FrigateConfig, engine: Engine) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.engine = engine
        self.index = FrigateIndex(engine.store)
        self.http = FrigateHttp(cfg.url(), cfg.download_timeout_s)
        self._tls = tls_context(cfg.mqtt_tls)
        self.clip_dir = cfg.output_dir or (engine.data_dir / "frigate" / cfg.name)
        self.cameras: dict[str, FrigateCamera] = {}  # by Frigate's name
        self.stats = BridgeStats()
        self.mqtt_connected = False
        self.last_message: float | None = None
        self.gave_up = False
        self.last_error: str | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        self._finishing: set[asyncio.Task[None]] = set()
        self._limit = asyncio.Semaphore(MAX_FINISHING)
        self._wake_clips = asyncio.Event()
        self._inflight: set[str] = set()  # events whose end is being finished right now
        self._clips_in_use: set[str] = set()  # events whose clip the detector is checking

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        for vname, fname in await self.index.cameras(self.name):
            self._register(fname, vname)
        for fname in self.cfg.cameras or ():
            self._register(fname)
        for row in await self.index.open_before(self.name, float("inf")):
            event = await self.engine.store.get_event(row.event_id)
            if event is not None:  # still open in Frigate: its end will come
                cam = self._register(row.frigate_camera, row.camera)
                cam.open_events[row.event_id] = (event["labels"] or ["object"])[0]
        self._tasks = [
            asyncio.create_task(self._listen(), name=f"frigate-{self.name}-mqtt"),
            asyncio.create_task(self._clip_worker(), name=f"frigate-{self.name}-clips"),
            asyncio.create_task(self._watch_versions(), name=f"frigate-{self.name}-version"),
            asyncio.create_task(self._watch_assessments(), name=f"frigate-{self.name}-out"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        # An interrupted download is a pending job again at the next start.
        for task in list(self._finishing):
            task.cancel()
        await asyncio.gather(*self._finishing, return_exceptions=True)
        await self.http.close()

    # ------------------------------------------------------------------ cameras

    def _register(self, frigate_name: str, vname: str | None = None) -> FrigateCamera:
        cam = self.cameras.get(frigate_name)
        if cam is not None:
            return cam
        if vname is None:
            vname = vigil_name(frigate_name)
            taken = set(self.engine.config.cameras) | set(self.engine.frigate_cameras)
            if vname in taken:
                vname = f"{self.name}_{vname}"[:63]
        override = self.cfg.camera_overrides.get(frigate_name)
        config = CameraConfig(
            name=vname, inputs=(), detect=DetectConfig(enabled=False),
            objects=ObjectsConfig(track=self.cfg.labels), motion=MotionConfig(), zones={},
            events=EventsConfig(),
            description=override.description if override else "",
            alerts=override.alerts if override else AlertConfig())
        cam = FrigateCamera(vname, frigate_name, config)
        self.cameras[frigate_name] = cam
        self.engine.frigate_cameras[vname] = (self, cam)
        self.engine.risk.cameras[vname] = config
        return cam

    def camera_status(self, cam: FrigateCamera) -> dict[str, Any]:
        online = self.mqtt_connected and self.http.reachable
        return {
            "name": cam.name, "source": "frigate", "server": self.name,
            "frigate_camera": cam.frigate_name, "enabled": True, "stream_url": None,
            "tracked_labels": list(self.cfg.labels),
            "status": "online" if online else "offline",
            "error": None if online else (self.last_error or self.http.last_error
                                          or "Frigate not reachable"),
            "last_frame_time": None, "fps": 0.0, "sample_fps": 0.0, "detect_fps": 0.0,
            "resolution": None, "codec": None,
            "detect": {"enabled": False, "fps": 0, "width": 0, "height": 0},
            "motion": {"active": False, "percent": 0.0, "recalibrations": 0},
            # Objects Frigate is following right now (its open events), like own cameras.
            "objects": dict(Counter(cam.open_events.values())),
            "event_id": max(cam.open_events, default=None),
            "last_event": cam.last_event, "zones": sorted(cam.config.zones),
            "switches": {"detect": True, "record": False, "risk": True},
            "record": {"enabled": False},
            "stats": {"events_opened": 0},
        }

    def health(self) -> dict[str, Any]:
        return {"mqtt_connected": self.mqtt_connected, "last_message": self.last_message,
                "reachable": self.http.reachable, "version": self.http.version,
                "gave_up": self.gave_up}

    def status(self) -> dict[str, Any]:
        s = self.stats
        return {**self.health(), "url": redact_url(self.http.base), "error": self.last_error,
                "http_error": self.http.last_error,
                "cameras": sorted(c.name for c in self.cameras.values()),
                "stats": {"messages": s.messages, "events_opened": s.events_opened,
                          "filtered": dict(s.filtered), "bad_messages": dict(s.bad),
                          "duplicates": s.duplicates, "dismissed": dict(s.dismissed),
                          "clips": s.clips, "clip_failures": s.clip_failures,
                          "clip_gone": s.clip_gone, "descriptions": s.descriptions,
                          "reconnects": s.reconnects}}

    # ------------------------------------------------------------------ MQTT in

    async def _listen(self) -> None:
        cfg = self.cfg
        topic = f"{cfg.mqtt_topic_prefix}/events"
        available = f"{cfg.mqtt_topic_prefix}/available"
        failures = 0
        while True:
            try:
                async with aiomqtt.Client(
                        cfg.mqtt_host, cfg.mqtt_port, username=cfg.mqtt_username,
                        password=cfg.password(), identifier=cfg.mqtt_client_id,
                        keepalive=30, timeout=10, tls_context=self._tls) as client:
                    await client.subscribe(topic, qos=1)
                    await client.subscribe(available, qos=1)
                    self.mqtt_connected = True
                    self.last_error = None
                    if failures:
                        self.stats.reconnects += 1
                    failures = 0
                    _LOGGER.info("frigate %s: listening on %s:%d %s", self.name, cfg.mqtt_host,
                                 cfg.mqtt_port, topic)
                    async for message in client.messages:
                        self.last_message = time.time()
                        if message.topic.matches(available):
                            await self._availability(message.payload)
                        else:
                            await self.handle_raw(message.payload)
            except aiomqtt.MqttError as err:
                self.mqtt_connected = False
                failures += 1
                self.last_error = f"MQTT: {err}"
                limit = cfg.max_reconnect_attempts
                if limit and failures >= limit:
                    self.gave_up = True
                    _LOGGER.error("frigate %s: gave up on the MQTT broker %s:%d after %d "
                                  "attempt(s): %s", self.name, cfg.mqtt_host, cfg.mqtt_port,
                                  failures, err)
                    return
                delay = min(cfg.reconnect_delay_s * 2 ** min(failures - 1, 10),
                            max(60.0, cfg.reconnect_delay_s))
                _LOGGER.warning("frigate %s: MQTT broker %s:%d: %s; retry %d in %.0f s",
                                self.name, cfg.mqtt_host, cfg.mqtt_port, err, failures, delay)
                await asyncio.sleep(delay)

    async def _availability(self, payload: Any) -> None:
        """Frigate (re)started: events it was tracking before will never get their ``end``."""
        if payload not in (b"online", "online"):
            return
        try:
            stale = await self.index.open_before(self.name, time.time() - 1.0)
            for row in stale:
                await self._close_orphan(row)
        except Exception:
            _LOGGER.exception("frigate %s: closing events Frigate forgot failed", self.name)

    async def _close_orphan(self, row: FrigateRow) -> None:
        if not await self.index.mark_ended(self.name, row.frigate_id):
            return
        event = await self.engine.store.get_event(row.event_id)
        if event is None:
            return
        last = max([o.get("last_seen", event["start_time"]) for o in event["objects"]]
                   + [event["start_time"]])
        await self.engine.store.set_columns(row.event_id, end_time=round(last, 3))
        await self.index.set_clip(row.event_id, "none")
        cam = self.cameras.get(row.frigate_camera)
        if cam is not None:
            cam.open_events.pop(row.event_id, None)
        _LOGGER.info("frigate %s: Frigate restarted; event %s closed at its last sighting",
                     self.name, row.event_id)
        await self._publish("end", row.event_id)
        await self._score(row.event_id)

    async def handle_raw(self, raw: Any) -> None:
        """One MQTT message; whatever it holds, the listener carries on."""
        self.stats.messages += 1
        if not isinstance(raw, bytes | bytearray | str):
            raw = b""
        try:
            msg = parse(raw)
        except BadPayload as err:
            self.stats.bad[err.reason] += 1
            _LOGGER.warning("frigate %s: ignored a bad message on %s/events (%s: %s)",
                            self.name, self.cfg.mqtt_topic_prefix, err.reason, err.detail)
            return
        try:
            await self.handle(msg)
        except Exception:
            self.stats.bad["failed"] += 1
            _LOGGER.exception("frigate %s: could not handle %s of %s", self.name, msg.type,
                              msg.after.id)

    # ------------------------------------------------------------------ filters

    def rejects(self, obj: FrigateObject) -> str | None:
        """Why this object is not for Vigil (None: it is)."""
        cfg = self.cfg
        if cfg.cameras is not None and obj.camera not in cfg.cameras:
            return "camera"
        if obj.label not in cfg.labels:
            return "label"
        if max(obj.top_score, obj.score) < cfg.min_score:
            return "score"
        if cfg.zones is not None and not set(obj.zones) & set(cfg.zones):
            return "zone"
        return None

    # ------------------------------------------------------------------ events

    def _event(self, cam: FrigateCamera, obj: FrigateObject, end: bool) -> dict[str, Any]:
        last = obj.end_time if end and obj.end_time else (obj.frame_time or obj.start_time)
        last = max(last, obj.start_time)
        for z in obj.zones:
            if z not in cam.config.zones:
                # Zones Frigate knows: named in the risk context, normal sensitivity.
                cam.config.zones[z] = ZoneConfig(z, ((0, 0), (1, 0), (0, 1)))
        meta = obj.metadata() if self.cfg.include_frigate_metadata else {"event_id": obj.id}
        meta["server"] = self.name
        box = [int(v) for v in obj.box] if obj.box else [0, 0, 0, 0]
        zones = list(obj.entered_zones or obj.current_zones)
        objects: list[dict[str, Any]] = [{
            "id": object_id_for(self.name, obj), "label": obj.label,
            "top_score": round(obj.top_score, 3), "score": round(obj.score, 3),
            "zones": zones,
            "first_seen": round(obj.start_time, 3), "last_seen": round(last, 3),
            "dwell": round(last - obj.start_time, 1), "stationary": obj.stationary,
            "loitering": False, "loitering_zones": [], "box": box, "path": [],
            **({"sub_label": obj.sub_label} if obj.sub_label else {}),
        }]
        return {
            "id": event_id_for(self.name, obj), "camera": cam.name,
            "start_time": round(obj.start_time, 3),
            "end_time": round(max(obj.end_time or last, obj.start_time), 3) if end else None,
            "labels": [obj.label], "zones": sorted(set(zones)),
            "objects": objects, "top_score": round(obj.top_score, 3),
            "has_snapshot": False, "has_clip": False, "risk": None, "alert": False,
            "alert_reason": "", "acknowledged": False, "protected": False,
            "source": "frigate", "frigate": meta, "dismissed": None,
        }

    async def _assess_and_store(self, cam: FrigateCamera, event: dict[str, Any]) -> bool:
        """Rules assessment and the row in one step; True when that escalated the event."""
        risk = self.engine.risk
        event["risk"], event["alert"], event["alert_reason"] = await risk.fast(cam.config, event)
        _, escalated = await self.engine.store.upsert_event(event, escalate=escalation_of)
        return escalated

    async def handle(self, msg: FrigateMessage) -> None:
        obj = msg.after
        row = await self.index.get(self.name, obj.id)
        if row is not None and row.state == "ended":
            self.stats.duplicates += 1
            _LOGGER.debug("frigate %s: duplicate %s for %s ignored", self.name, msg.type, obj.id)
            return
        end = msg.type == "end"
        if row is None:
            reason = self.rejects(obj)
            if reason is not None:
                self.stats.filtered[reason] += 1
                return
            received = time.perf_counter()
            cam = self._register(obj.camera)
            event = self._event(cam, obj, end=False)
            event["risk"], event["alert"], event["alert_reason"] = await self.engine.risk.fast(
                cam.config, event)
            await self.index.open_event(event, self.name, obj.id, obj.camera)  # durable first
            stored = await self.engine.store.get_event(event["id"]) or event
            stored.pop("updated_at", None)
            stored["opened_at"] = time.time()
            cam.open_events[event["id"]] = obj.label
            cam.last_event = obj.start_time
            self.stats.events_opened += 1
            self.engine.bus.publish("new", stored)
            self.stats.new_to_push_ms = (time.perf_counter() - received) * 1000
            _LOGGER.info("frigate %s: %s on %s opened event %s", self.name, obj.label,
                         cam.name, event["id"])
            if not end:
                return
            row = await self.index.get(self.name, obj.id)
            assert row is not None
        cam = self._register(row.frigate_camera, row.camera)
        event = self._event(cam, obj, end=end)
        event["id"] = row.event_id  # as opened, whatever Frigate says about the start now
        if not end:
            escalated = await self._assess_and_store(cam, event)
            updated = await self._publish("update", event["id"])
            if escalated and updated is not None:
                self.engine.bus.publish("escalate", updated)
            return
        dismissed = self._dismissal(obj)
        event["dismissed"] = dismissed
        # The event row first: a crash before the index says "ended" lets a repeated
        # end finish the job, never leaves an event open for good.
        escalated = False
        if dismissed:
            await self.engine.store.upsert_event(event)  # keeps its risk; raises no alert
        else:
            escalated = await self._assess_and_store(cam, event)
        if not await self.index.mark_ended(self.name, obj.id):
            self.stats.duplicates += 1
            return
        cam.open_events.pop(event["id"], None)
        ended = await self._publish("end", event["id"])
        if escalated and ended is not None:
            self.engine.bus.publish("escalate", ended)
        if dismissed:
            self.stats.dismissed[dismissed.split(" ", 1)[0]] += 1
            _LOGGER.info("frigate %s: event %s dismissed (%s)", self.name, event["id"],
                         dismissed)
            await self.index.set_clip(event["id"], "none")
            return
        task = asyncio.create_task(self._finish(row, obj), name=f"frigate-end-{event['id']}")
        self._finishing.add(task)
        task.add_done_callback(self._finishing.discard)

    def _dismissal(self, obj: FrigateObject) -> str | None:
        if obj.false_positive:
            return "false_positive (Frigate marked it a false positive)"
        end = obj.end_time or obj.frame_time or obj.start_time
        duration = end - obj.start_time
        if duration < self.cfg.min_duration_s:
            return (f"too_short ({duration:.1f} s is under min_duration_s "
                    f"{self.cfg.min_duration_s:g} s)")
        return None

    async def _publish(self, kind: str, event_id: str) -> dict[str, Any] | None:
        stored = await self.engine.store.get_event(event_id)
        if stored is not None:
            stored.pop("updated_at", None)
            self.engine.bus.publish(kind, stored)  # type: ignore[arg-type]
        return stored

    # ------------------------------------------------------------------ end: media, score

    def clip_path(self, row: FrigateRow) -> Path:
        return self.clip_dir / row.camera / f"{row.event_id}.mp4"

    async def _finish(self, row: FrigateRow, obj: FrigateObject) -> None:
        self._inflight.add(row.event_id)
        async with self._limit:
            try:
                # Durable first: if the engine stops mid-way, the clip worker picks it up.
                await self.index.set_clip(row.event_id, "pending", next_attempt=time.time()
                                          + self.cfg.download_timeout_s + 10)
                await self._fetch_snapshot(row, obj)
                if self.cfg.bypass_filter:
                    await self._score(row.event_id)  # Frigate's word suffices: score now
                clip_ok = await self._fetch_clip(row, obj.has_clip, attempts=0)
                await self._after_clip(row, obj.label, clip_ok)
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("frigate %s: finishing event %s failed", self.name,
                                  row.event_id)
            finally:
                self._inflight.discard(row.event_id)

    async def _score(self, event_id: str) -> None:
        """One LLM assessment per event (a repeated call finds the job already there)."""
        risk = self.engine.risk
        if risk.uses_llm and await risk.jobs.get(event_id) is None:
            await risk.queue_closed(event_id)  # the same durable job own cameras queue

    async def _after_clip(self, row: FrigateRow, label: str, clip_ok: bool) -> None:
        """Second opinion (when asked for) once the clip is here, then score. Meanwhile the
        clip is in use: the rules' score is final at once, and the announcement of the
        download would otherwise drop the clip before the detector had looked at it."""
        if not self.cfg.bypass_filter:
            self._clips_in_use.add(row.event_id)
            try:
                scored = await self.engine.risk.jobs.get(row.event_id) is not None
                confirmed = (not clip_ok or scored
                             or await self._second_opinion(row, label))
            finally:
                self._clips_in_use.discard(row.event_id)
            if confirmed:
                # No clip to check (Frigate down or without one): score from what is known.
                await self._score(row.event_id)
        await self._drop_clip_if_scored(row.event_id)

    async def _fetch_snapshot(self, row: FrigateRow, obj: FrigateObject | None) -> bool:
        if obj is not None and not obj.has_snapshot:
            return False
        try:
            data = await self.http.snapshot(row.frigate_id)
        except (FrigateGone, FrigateUnavailable) as err:
            _LOGGER.info("frigate %s: no snapshot for %s yet (%s)", self.name, row.event_id,
                         err or type(err).__name__)
            return False
        snaps = self.engine.snapshots
        await asyncio.to_thread(write_atomic, snaps.event_path(row.camera, row.event_id), data)
        await asyncio.to_thread(write_atomic, snaps.event_path(row.camera, row.event_id,
                                                              bbox=True), data)
        await self.engine.store.set_columns(row.event_id, has_snapshot=True)
        return True

    async def _fetch_clip(self, row: FrigateRow, has_clip: bool, attempts: int) -> bool:
        """Download the clip; on failure leave a due job behind (durable retry)."""
        if not has_clip:
            await self.index.set_clip(row.event_id, "gone", error="Frigate has no clip")
            self.stats.clip_gone += 1
            return False
        dest = self.clip_path(row)
        try:
            size = await self.http.clip(row.frigate_id, dest)
        except FrigateGone:
            await self.index.set_clip(row.event_id, "gone", error="Frigate answered 404",
                                      attempts=attempts + 1)
            self.stats.clip_gone += 1
            _LOGGER.info("frigate %s: Frigate has no clip for %s (404); not retrying",
                         self.name, row.event_id)
            return False
        except FrigateUnavailable as err:
            delay = min(CLIP_RETRY_BASE * 2 ** attempts, CLIP_RETRY_MAX)
            await self.index.set_clip(row.event_id, "pending", error=str(err),
                                      next_attempt=time.time() + delay, attempts=attempts + 1)
            self.stats.clip_failures += 1
            _LOGGER.warning("frigate %s: clip for %s not downloaded (%s); retry in %.0f s",
                            self.name, row.event_id, err, delay)
            self._wake_clips.set()
            return False
        await self.index.set_clip(row.event_id, "done", path=str(dest), attempts=attempts + 1)
        await self.engine.store.set_columns(row.event_id, has_clip=True)
        self.stats.clips += 1
        _LOGGER.info("frigate %s: clip for %s downloaded (%.1f MB)", self.name, row.event_id,
                     size / 1e6)
        await self._publish("update", row.event_id)
        return True

    async def _second_opinion(self, row: FrigateRow, label: str) -> bool:
        try:
            ok = await confirms(self.engine.pool, self.clip_path(row), label)
        except Exception as err:  # an undecodable clip is no reason to drop an event
            _LOGGER.warning("frigate %s: second opinion on %s failed: %s", self.name,
                            row.event_id, err)
            return True
        if ok:
            return True
        reason = f"not_confirmed (Vigil's detector found no {label} in the clip)"
        self.stats.dismissed["not_confirmed"] += 1
        await self.engine.store.set_columns(row.event_id, dismissed=reason)
        await self._publish("update", row.event_id)
        return False

    async def _clip_worker(self) -> None:
        """Retries clip downloads Frigate could not serve at ``end``."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake_clips.wait(), CLIP_WORKER_TICK)
            self._wake_clips.clear()
            try:
                due = await self.index.due_clips(self.name, time.time())
            except Exception:
                _LOGGER.exception("frigate %s: cannot read clip jobs", self.name)
                continue
            for row in due:
                if row.event_id in self._inflight:
                    continue
                try:
                    event = await self.engine.store.get_event(row.event_id)
                    if event is None or event.get("dismissed"):
                        await self.index.set_clip(row.event_id, "none")
                        continue
                    if not event["has_snapshot"]:
                        await self._fetch_snapshot(row, None)
                    if self.cfg.bypass_filter:
                        await self._score(row.event_id)
                    clip_ok = await self._fetch_clip(row, True, row.clip_attempts)
                    await self._after_clip(row, (event.get("labels") or [""])[0], clip_ok)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    _LOGGER.exception("frigate %s: clip retry for %s failed", self.name,
                                      row.event_id)

    async def _drop_clip_if_scored(self, event_id: str) -> None:
        """``retain_clips: false``: the clip goes once its event has its final score."""
        if self.cfg.retain_clips or event_id in self._clips_in_use:
            return
        event = await self.engine.store.get_event(event_id)
        row = await self.index.by_event(event_id)
        if event is None or row is None or row.clip_status != "done":
            return
        risk = event.get("risk") or {}
        if event["end_time"] is None or risk.get("status") not in ("final", "fallback"):
            return
        if self.engine.risk.uses_llm and risk.get("provider") == "rules" and \
                risk.get("status") != "fallback":
            return
        await asyncio.to_thread(self.clip_path(row).unlink, True)
        await self.index.set_clip(event_id, "deleted")
        await self.engine.store.set_columns(event_id, has_clip=False)
        await self._publish("update", event_id)

    # ------------------------------------------------------------------ HTTP side

    async def _watch_versions(self) -> None:
        while True:
            version = await self.http.check_version()
            if version is None:
                _LOGGER.debug("frigate %s: %s not reachable", self.name, redact_url(self.http.base))
            await asyncio.sleep(VERSION_CHECK_SECONDS if version else 5.0)

    async def _watch_assessments(self) -> None:
        """Write the summary back into Frigate; drop clips that were scored."""
        queue = self.engine.bus.subscribe(1024)
        try:
            while True:
                msg = await queue.get()
                event = msg.event
                if event.get("source") != "frigate" or msg.kind not in ("update", "end"):
                    continue
                meta = event.get("frigate") or {}
                if meta.get("server") != self.name or event.get("end_time") is None:
                    continue
                try:
                    await self._write_back(event)
                    if not self.cfg.retain_clips and event.get("has_clip"):
                        await self._drop_clip_if_scored(event["id"])
                except asyncio.CancelledError:
                    raise
                except Exception:
                    _LOGGER.exception("frigate %s: write-back for %s failed", self.name,
                                      event.get("id"))
        finally:
            self.engine.bus.unsubscribe(queue)

    async def _write_back(self, event: dict[str, Any]) -> None:
        risk = event.get("risk") or {}
        if (not self.cfg.write_back_description or event.get("dismissed")
                or risk.get("status") not in ("final", "fallback")):
            return
        if self.engine.risk.uses_llm and risk.get("status") == "final" and \
                risk.get("provider") == "rules":
            return
        text = (f"Vigil: risk {risk.get('risk_level')} ({risk.get('risk_score')}/100), "
                f"{str(risk.get('activity_type', '')).replace('_', ' ')}. "
                f"{risk.get('summary', '')}").strip()[:1000]
        row = await self.index.by_event(event["id"])
        if row is None or row.described == text:
            return
        try:
            await self.http.describe(row.frigate_id, text)
        except FrigateGone:
            await self.index.set_described(event["id"], text)  # nothing to describe any more
            return
        except FrigateUnavailable as err:
            _LOGGER.info("frigate %s: description for %s not written (%s)", self.name,
                         event["id"], err)
            return
        self.stats.descriptions += 1
        await self.index.set_described(event["id"], text)
