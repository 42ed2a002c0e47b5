"""Wires the subsystems together and owns start-up and ordered shutdown.

Shutdown order matters for "nothing is lost": stop accepting API calls, stop
the cameras (no new frames), close open events (rows and snapshots written),
stop the detector, then close SQLite with a WAL checkpoint.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
import uuid
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web

from . import __version__
from .api.auth import load_or_create_token
from .api.server import GuardedRunner, build_app, tls_context
from .api.ws import CameraHub
from .config import CameraConfig, Config
from .detect.pool import DetectorPool
from .events.bus import EventBus
from .events.snapshots import SnapshotWriter
from .mqtt.publisher import MqttPublisher
from .pipeline import CameraPipeline
from .record.activity import ActivityLog
from .record.playback import PreviewCache
from .record.recorder import Recorder
from .record.retention import Retention
from .record.service import ClipService
from .risk.jobs import queue_final
from .risk.service import RiskService
from .sources.frigate.bridge import FrigateBridge, FrigateCamera
from .store.db import Store
from .store.recordings import RecordingIndex

_LOGGER = logging.getLogger(__name__)


class Engine:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.data_dir = config.data_dir
        self.started = time.time()
        self.token = ""
        self.instance_id = ""
        self.pipelines: dict[str, CameraPipeline] = {}
        self.bus = EventBus()
        self.snapshots = SnapshotWriter(self.data_dir / "snapshots")
        self.recordings_root = self.data_dir / "recordings"
        self.clips_root = self.data_dir / "clips"
        self._runner: web.AppRunner | None = None
        self._retention_task: asyncio.Task[None] | None = None
        self.ws_clients: set[Any] = set()
        self.mjpeg_streams = 0
        self.previews = PreviewCache()
        self.tz = ZoneInfo(config.location.timezone) if config.location.timezone else None
        self.url = ""
        self.frigate: dict[str, FrigateBridge] = {}
        # Vigil camera name -> the Frigate server and camera it stands for.
        self.frigate_cameras: dict[str, tuple[FrigateBridge, FrigateCamera]] = {}
        self.mqtt_out: MqttPublisher | None = None

    async def start(self) -> None:
        cfg = self.config
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.token = load_or_create_token(self.data_dir, cfg.api.token)
        self.store = await asyncio.to_thread(Store, self.data_dir / "vigil.db")
        # Events a crash left open are closed with their scoring queued (never left pending).
        closed = await asyncio.to_thread(self.store.close_dangling_events,
                                         queue_final if cfg.risk.llm is not None else None)
        if closed:
            _LOGGER.warning("closed %d event(s) left open by an unclean shutdown", closed)
        instance = await asyncio.to_thread(self.store.get_meta, "instance_id")
        if instance is None:
            instance = str(uuid.uuid4())
            await asyncio.to_thread(self.store.set_meta, "instance_id", instance)
        self.instance_id = instance
        self.recording_index = RecordingIndex(self.store)
        self.frigate_clip_roots = [f.output_dir or self.data_dir / "frigate" / f.name
                                   for f in cfg.frigate]
        self.retention = Retention(cfg, self.recordings_root, self.clips_root, self.store,
                                   self.recording_index, self.bus,
                                   frigate_roots=self.frigate_clip_roots)
        # Index and disk must agree before anything records (after a crash, too).
        self.reconcile_report = await asyncio.to_thread(self.retention.reconcile)
        self.clips = ClipService(self.recordings_root, self.clips_root, self.recording_index,
                                 self.retention)
        self.risk = RiskService(cfg, self.store, self.bus,
                                lambda cam, eid: self.snapshots.event_path(cam, eid))
        await self.risk.start()
        self.pool = await asyncio.to_thread(
            DetectorPool, cfg.detector.model, cfg.detector.labels, cfg.detector.threads)
        for name, cam in cfg.cameras.items():
            if cam.enabled:
                self.pipelines[name] = CameraPipeline(cam, self.pool, self.store, self.bus,
                                                      self.snapshots, self._make_recorder,
                                                      self.risk)
        self.camera_hub = CameraHub(self)
        self._runner = GuardedRunner(build_app(self), access_log=None,
                                     handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        tls = (tls_context(cfg.api.tls_cert, cfg.api.tls_key)
               if cfg.api.tls_cert and cfg.api.tls_key else None)
        site = web.TCPSite(self._runner, cfg.api.host, cfg.api.port, reuse_address=True,
                           ssl_context=tls)
        await site.start()
        host = f"[{cfg.api.host}]" if ":" in cfg.api.host else cfg.api.host
        self.url = f"{'https' if tls else 'http'}://{host}:{cfg.api.port}"
        for p in self.pipelines.values():
            await p.start()
        if cfg.mqtt.enabled:
            self.mqtt_out = MqttPublisher(cfg.mqtt, self.bus)
            await self.mqtt_out.start()
        for fcfg in cfg.frigate:
            bridge = FrigateBridge(fcfg, self)
            self.frigate[fcfg.name] = bridge
            await bridge.start()
        await self._load_camera_options()
        self._retention_task = asyncio.create_task(
            self.retention.run(cfg.storage.check_seconds), name="retention")
        _LOGGER.info("Vigil engine %s: %d camera(s), %d Frigate server(s), API on %s",
                     __version__, len(self.pipelines), len(self.frigate), self.url)

    async def stop(self) -> None:
        _LOGGER.info("shutting down")
        if hasattr(self, "camera_hub"):
            await self.camera_hub.stop()
        for client in list(self.ws_clients):
            await client.ws.close(code=1001, message=b"engine shutting down")
        if self._runner is not None:
            await self._runner.cleanup()
        if self._retention_task is not None:
            self._retention_task.cancel()
            await asyncio.gather(self._retention_task, return_exceptions=True)
        await asyncio.gather(*(p.stop() for p in self.pipelines.values()),
                             *(b.stop() for b in self.frigate.values()),
                             return_exceptions=True)
        if hasattr(self, "risk"):
            await self.risk.stop()  # after the cameras: closing events have queued their jobs
        if hasattr(self, "retention"):
            # Leave the disk within its limits and has_clip flags true on exit.
            try:
                await self.retention.pass_once()
            except Exception:
                _LOGGER.exception("final retention pass failed")
        if self.mqtt_out is not None:
            await asyncio.sleep(0.2)  # let the last changes (closing events) go out
            await self.mqtt_out.stop()
        if hasattr(self, "pool"):
            await asyncio.to_thread(self.pool.close)
        if hasattr(self, "store"):
            await asyncio.to_thread(self.store.close)
        _LOGGER.info("stopped cleanly")

    def _make_recorder(self, camera: CameraConfig, activity: ActivityLog,
                       loop: asyncio.AbstractEventLoop) -> Recorder:
        return Recorder(camera, self.recordings_root, self.recording_index, activity, loop)

    async def set_event_flag(self, event_id: str, flag: str, value: bool) -> dict[str, Any]:
        updated = await self.store.set_flag(event_id, flag, value)
        assert updated is not None
        updated.pop("updated_at", None)
        self.bus.publish("update", updated)
        return updated

    async def set_mode(self, mode: str) -> None:
        await self.risk.set_mode(mode)
        self.bus.publish("mode", {"mode": mode})

    async def analyze_now(self, name: str) -> dict[str, Any]:
        """Assess what a camera sees right now (not stored as an event)."""
        pipeline = self.pipelines[name]
        seen = await pipeline.analyze_now()
        if not seen["objects"]:
            return {**seen, "risk": None}
        event = {"id": f"{int(seen['time'] * 1000)}-000000", "camera": name,
                 "start_time": seen["time"], "end_time": seen["time"],
                 "labels": sorted({o["label"] for o in seen["objects"]}),
                 "objects": seen["objects"]}
        risk = await self.risk.assess_now(self.config.cameras[name], event)
        return {**seen, "risk": risk}

    async def event_days(self, camera: str, days: int) -> list[dict[str, Any]]:
        since = time.time() - days * 86400
        starts = await self.store.read(lambda c: [r[0] for r in c.execute(
            "SELECT start_time FROM events WHERE camera = ? AND start_time >= ?",
            (camera, since)).fetchall()])
        counts: dict[str, list[float]] = {}
        for ts in starts:
            local = datetime.fromtimestamp(ts, self.tz)
            day = local.strftime("%Y-%m-%d")
            if day not in counts:
                midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
                counts[day] = [0, midnight.timestamp(),
                               (midnight + timedelta(days=1)).timestamp()]
            counts[day][0] += 1
        return [{"date": d, "count": int(v[0]), "start": v[1], "end": v[2]}
                for d, v in sorted(counts.items(), reverse=True)]

    async def events_today(self) -> int:
        local = datetime.fromtimestamp(time.time(), self.tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()
        return int(await self.store.read(lambda c: c.execute(
            "SELECT COUNT(*) FROM events WHERE start_time >= ?", (midnight,)).fetchone()[0]))

    def camera_statuses(self) -> list[dict[str, Any]]:
        """Own cameras and Frigate's, in one list (``source`` tells them apart)."""
        own = [{**p.status(), "source": "vigil"} for p in self.pipelines.values()]
        return own + [bridge.camera_status(cam) for bridge, cam in self.frigate_cameras.values()]

    def camera_status(self, name: str) -> dict[str, Any] | None:
        if name in self.pipelines:
            return {**self.pipelines[name].status(), "source": "vigil"}
        if name in self.frigate_cameras:
            bridge, cam = self.frigate_cameras[name]
            return bridge.camera_status(cam)
        return None

    def frigate_health(self) -> dict[str, Any]:
        return {name: b.health() for name, b in self.frigate.items()}

    async def stats(self) -> dict[str, Any]:
        return {
            "events_today": await self.events_today(),
            "storage": await self.storage_status(),
            "detector": self.detector_status(),
            "risk": await self.risk.status(),
            "clips": {"built": self.clips.built,
                      "build_seconds": round(self.clips.build_seconds, 3)},
            "api": {"websocket_clients": len(self.ws_clients),
                    "mjpeg_streams": self.mjpeg_streams},
            "cameras": {name: p.status() for name, p in self.pipelines.items()},
            "frigate": {name: b.status() for name, b in self.frigate.items()},
            "mqtt": self.mqtt_out.status() if self.mqtt_out else {"enabled": False},
        }

    async def _load_camera_options(self) -> None:
        raw = await asyncio.to_thread(self.store.get_meta, "camera_options")
        saved = json.loads(raw) if raw else {}
        for name in self.pipelines:
            self.apply_camera_options(name, saved.get(name, {}))

    def camera_options(self, name: str) -> dict[str, bool]:
        p = self.pipelines[name]
        return {"detect": p.detect_enabled,
                "record": bool(p.recorder and p.recorder.writer.enabled),
                "risk": p.events.risk_enabled}

    def apply_camera_options(self, name: str, options: dict[str, Any]) -> None:
        p = self.pipelines[name]
        if "detect" in options:
            p.detect_enabled = bool(options["detect"])
        if "record" in options and p.recorder is not None:
            p.recorder.writer.enabled = bool(options["record"])
        if "risk" in options:
            p.events.risk_enabled = bool(options["risk"])

    async def set_camera_options(self, name: str, options: dict[str, bool]) -> dict[str, bool]:
        """Switch detection, recording or risk analysis; survives restarts."""
        self.apply_camera_options(name, options)
        saved = {n: self.camera_options(n) for n in self.pipelines}
        await asyncio.to_thread(self.store.set_meta, "camera_options", json.dumps(saved))
        return self.camera_options(name)

    async def storage_status(self) -> dict[str, Any]:
        used, free, total = await asyncio.to_thread(self.retention.disk_usage)
        per_camera = await self.recording_index.usage()
        oldest = min((c["oldest"] for c in per_camera.values() if c["oldest"]), default=None)
        st = self.config.storage
        report = self.retention.last_report
        return {
            "used_bytes": used,
            "free_bytes": free,
            "total_bytes": total,
            "max_size_gb": st.max_size_gb,
            "min_free_gb": st.min_free_gb,
            "oldest_footage": oldest,
            "cameras": per_camera,
            "last_purge": {"freed_bytes": report.freed_bytes, "aged": report.aged,
                           "quota": report.quota, "undecided": report.undecided_dropped,
                           "clips": report.clips, "events": report.events,
                           "warnings": report.reasons},
            "reconcile": self.reconcile_status(),
        }

    def reconcile_status(self) -> dict[str, Any]:
        """The periodic index/disk check: how often, how many runs, what the last one did."""
        ret = self.retention
        last = dataclasses.asdict(ret.last_reconcile) if ret.reconciles else None
        totals = {k: ret.reconcile_totals.get(k, 0)
                  for k in ("rows_dropped", "orphans_indexed", "sizes_fixed")}
        return {"interval_seconds": self.config.storage.reconcile_seconds,
                "runs": ret.reconciles, "last": last, "totals": totals,
                "at_start": self.reconcile_report}

    def detector_status(self) -> dict[str, Any]:
        st = self.pool.stats
        return {
            "model": self.pool.model_name,
            "threads": self.config.detector.threads,
            "inference_ms": round(st.inference_ms, 2),
            "inferences": st.inferences,
            "errors": st.errors,
            "queue": self.pool.queue_depth,
        }
