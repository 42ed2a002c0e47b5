"""One camera's pipeline: capture -> motion -> detection -> tracking -> events.

Frames arrive from the capture thread into a one-slot queue: when the engine
falls behind, stale frames are replaced by the newest rather than piling up,
so latency stays bounded and CPU use cannot run away.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .capture.rate import RateMeter
from .capture.source import Capture, Frame
from .config import CameraConfig
from .detect.planner import LookPlanner
from .detect.pool import DetectorPool
from .detect.regions import look_around_tiles
from .detect.types import Box
from .events.bus import EventBus
from .events.manager import EventManager
from .events.snapshots import SnapshotWriter
from .motion.detector import MotionDetector
from .record.activity import ActivityLog
from .record.recorder import Recorder
from .redact import scrub
from .risk.service import RiskService
from .store.db import Store
from .track.tracker import Tracker

_LOGGER = logging.getLogger(__name__)

RecorderFactory = Callable[[CameraConfig, ActivityLog, asyncio.AbstractEventLoop], Recorder]


@dataclass
class PipelineStats:
    frames: int = 0
    dropped: int = 0
    detect_runs: int = 0
    regions: int = 0
    motion_frames: int = 0
    process_ms: float = 0.0
    processed: int = 0  # samples processed (a quiet sample's held-back ones not counted)
    lag_total_s: float = 0.0  # summed over them: sample taken -> its processing starts
    lag_ms: float = 0.0  # the same, moving average
    started: float = field(default_factory=time.time)


class CameraPipeline:
    def __init__(self, camera: CameraConfig, pool: DetectorPool, store: Store, bus: EventBus,
                 snapshots: SnapshotWriter, recorder_factory: RecorderFactory | None = None,
                 risk: RiskService | None = None) -> None:
        self.config = camera
        self.name = camera.name
        self.pool = pool
        self.motion = MotionDetector(camera.detect.width, camera.detect.height, camera.motion)
        self.tracker = Tracker(camera)
        self.planner = LookPlanner(camera.detect.width, camera.detect.height, pool.input_size,
                                   camera.detect.fps)
        self.events = EventManager(camera, store, bus, snapshots, risk)
        self.stats = PipelineStats()
        self.detect_fps = RateMeter()
        # JPEGs of the newest picture, by (its wall time, height, boxes drawn).
        self.jpeg_cache: dict[tuple[float, int | None, bool], bytes] = {}
        self.last_motion = 0.0
        self.detect_enabled = camera.detect.enabled
        self._labels = frozenset(camera.objects.track)
        self._min_score = min(
            [camera.objects.filter_for(label).min_score for label in camera.objects.track]
        )
        # The newest sample only: one that waited for the one before it was no fewer
        # drops at scale but a sample interval later for every busy camera (README).
        self._queue: asyncio.Queue[Frame] = asyncio.Queue(maxsize=1)
        self._task: asyncio.Task[None] | None = None
        self.capture: Capture | None = None
        self.record_capture: Capture | None = None  # only when record uses another input
        self.activity = ActivityLog()
        self.recorder: Recorder | None = None
        self._recorder_factory = recorder_factory
        # Whoever is already in view when the stream comes (back) online, or detection is
        # switched back on, may never move: look at the whole frame once then.
        self._scanned_connects = 0
        self._scan_pending = True

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        source = self.config.input_for("detect")
        assert source is not None  # guaranteed by config validation
        record_source = self.config.input_for("record")
        if self.config.record.enabled and record_source and self._recorder_factory:
            self.recorder = self._recorder_factory(self.config, self.activity, loop)
        sink = self.recorder.writer if self.recorder else None
        shared = record_source is source
        status_cb = self.recorder.on_stream_status if self.recorder else None
        self.capture = Capture(self.name, source, self.config.detect, loop, self._offer,
                               sink=sink if shared else None,
                               on_status=status_cb if shared else None,
                               motion=self.motion)
        if sink is not None and not shared and record_source is not None:
            self.record_capture = Capture(self.name, record_source, self.config.detect, loop,
                                          None, sink=sink, on_status=status_cb)
        self._task = asyncio.create_task(self._run(), name=f"pipeline-{self.name}")
        self.capture.start()
        if self.record_capture is not None:
            self.record_capture.start()

    def _offer(self, frame: Frame) -> None:
        """Called on the loop by the capture thread; keeps only the newest frame."""
        if self._queue.full():
            older = self._queue.get_nowait()
            self.stats.dropped += 1
            if older.quiet:  # the still samples before it were looked at for motion
                frame = dataclasses.replace(frame, quiet=frame.quiet + older.quiet)
        self._queue.put_nowait(frame)

    async def stop(self) -> None:
        """Stop capture first, then finish the pipeline and close the open event."""
        captures = [c for c in (self.capture, self.record_capture) if c is not None]
        await asyncio.gather(*(asyncio.to_thread(c.stop) for c in captures))
        if self.recorder is not None:
            await self.recorder.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.events.current is not None:
            await self.events.close(max(self.events.current.last_activity,
                                        self.events.current.start_time))

    async def _run(self) -> None:
        while True:
            try:
                frame = await asyncio.wait_for(self._queue.get(), timeout=1.0)
            except TimeoutError:
                # No frames (camera offline, stalled): events must still end on time.
                try:
                    await self._forget_if_blind(None)
                    await self.events.tick(time.time())
                except Exception:
                    _LOGGER.exception("%s: failed to close an idle event", self.name)
                continue
            try:
                await self._process(frame)
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("%s: failed to process a frame", self.name)
            # Not kept while waiting for the next: a busy camera's sample is 1.3 MB of RGB.
            del frame

    def _watched_tiles(self, width: int, height: int) -> list[Box]:
        """Look-around tiles, minus those the motion mask hides (the user said: not there)."""
        watch, step = self.motion.watch, self.motion.step
        tiles = []
        for x1, y1, x2, y2 in look_around_tiles(width, height):
            part = watch[y1 // step: y2 // step + 1, x1 // step: x2 // step + 1]
            if part.size and part.mean() >= 0.1:
                tiles.append((x1, y1, x2, y2))
        return tiles

    async def _forget_if_blind(self, frame: Frame | None) -> bool:
        """With detection switched off nobody can be followed: tracked objects are gone
        (occupancy goes off, their event can end)."""
        if self.detect_enabled or not self.tracker.tracks:
            return False
        now = frame.time if frame is not None else time.time()
        update = self.tracker.forget_all(now)
        if frame is None:
            frame = Frame(camera=self.name, time=now, rgb=None, index=-1)
        await self.events.process(frame, update)
        return True

    async def _process(self, frame: Frame) -> None:
        start = time.perf_counter()
        lag = max(0.0, time.time() - frame.time)
        self.stats.processed += 1
        self.stats.lag_total_s += lag
        self.stats.lag_ms = self.stats.lag_ms * 0.9 + lag * 1000 * 0.1
        self.stats.frames += 1 + frame.quiet  # quiet samples were looked at for motion
        if not self.detect_enabled:
            self._scan_pending = True
        if await self._forget_if_blind(frame):
            return
        if self.capture is not None and self.capture.status.connects != self._scanned_connects:
            self._scanned_connects = self.capture.status.connects
            self._scan_pending = True
        if frame.motion is not None:
            motion = frame.motion
        elif frame.rgb is not None:
            motion = await asyncio.to_thread(self.motion.process, frame.rgb)
        else:
            return
        if motion.boxes:
            self.stats.motion_frames += 1
            self.last_motion = frame.time
        self.tracker.motion_seen(motion.boxes, everywhere=motion.recalibrated)
        regions: list[Box] = []
        detections = []
        if self.detect_enabled and frame.rgb is not None:
            h, w = frame.rgb.shape[:2]
            scan = self._watched_tiles(w, h) if self._scan_pending else []
            self._scan_pending = False
            self.planner.looked(scan, frame.time)
            regions = scan + self.planner.plan(motion.boxes, *self.tracker.due_looks(frame.time),
                                               frame.time)
            if regions:
                if self.capture is not None:
                    # While the detector looks at this sample, a still one after it is of
                    # no use to anyone: capture holds it back like any still sample. With
                    # the detector shared by busy cameras the wait can span a few samples,
                    # each converted to RGB only to be thrown away when the next came.
                    self.capture.wants_rgb = False
                detections = await self.pool.detect(frame.rgb, regions, self._min_score,
                                                    self._labels)
                self.stats.detect_runs += 1
                self.stats.regions += len(regions)
                self.detect_fps.tick()
        update = self.tracker.update(detections, frame.time, regions)
        self.activity.note(frame.time, bool(motion.boxes), any(t.active for t in update.seen))
        await self.events.process(frame, update)
        if self.capture is not None:
            # Full frames are needed while objects are being followed.
            self.capture.wants_rgb = self.detect_enabled and (self._scan_pending or bool(
                self.tracker.regions_to_check(frame.time + 1.0 / self.config.detect.fps)))
        ms = (time.perf_counter() - start) * 1000
        self.stats.process_ms = self.stats.process_ms * 0.9 + ms * 0.1

    def _record_status(self) -> dict[str, Any]:
        if self.recorder is None:
            return {"enabled": False}
        st = self.recorder.status()
        rc = self.record_capture
        st["input"] = "separate" if rc else "shared with detect"
        if rc is not None:
            st["online"] = rc.status.online
            st["error"] = rc.status.error
            st["fps"] = round(rc.input_fps.rate, 2)
            st["resolution"] = [rc.status.width, rc.status.height] if rc.status.width else None
            st["decoder_opened"] = rc.decoder_open
        else:
            st["online"] = bool(self.capture and self.capture.status.online)
        return st

    @property
    def stream_source(self) -> str | None:
        """The camera's own stream for live view (the record input, else detect), with its
        credentials: only for the ``camera/stream_source`` command, never in listings."""
        source = self.config.input_for("record") or self.config.input_for("detect")
        if source is None or not source.url.startswith(("rtsp://", "rtsps://")):
            return None
        return source.url

    @property
    def stream_url(self) -> str | None:
        """The live stream's URL for display, credentials hidden."""
        url = self.stream_source
        return scrub(url) if url else None

    def newest_at(self) -> float | None:
        """Wall time of the picture ``latest_rgb`` would give now, without converting it."""
        return self.capture.newest_at if self.capture is not None else None

    async def latest_rgb(self) -> tuple[float, np.ndarray] | None:
        """The camera's newest picture, converted now to RGB at detect size (no camera
        keeps one between samples), with its wall time; None before the first."""
        if self.capture is None:
            return None
        w, h = self.config.detect.width, self.config.detect.height
        return await asyncio.to_thread(self.capture.newest_rgb, w, h)

    async def analyze_now(self) -> dict[str, Any]:
        """Look at the newest frame with fresh eyes: the whole frame, tiled, right now."""
        latest = await self.latest_rgb()
        if latest is None:
            raise LookupError(f"camera {self.name!r} has not delivered a frame yet")
        at, rgb = latest
        h, w = rgb.shape[:2]
        tiles = look_around_tiles(w, h)
        detections = await self.pool.detect(rgb, tiles, self._min_score, self._labels)
        f = self.config.objects.filter_for
        found = [d for d in detections if d.score >= f(d.label).threshold
                 and self.tracker.passes_filter(d)]
        zones = self.tracker.zones
        objects = []
        for i, d in enumerate(found):
            bc = d.bottom_center
            objects.append({
                "id": f"{i:08x}", "label": d.label, "top_score": round(d.score, 3),
                "zones": [z.name for z in zones if z.contains(d.label, bc)],
                "first_seen": at, "last_seen": at, "stationary": False,
                "loitering": False, "box": list(d.box), "path": []})
        return {"camera": self.name, "time": at, "objects": objects}

    def status(self) -> dict[str, Any]:
        cap = self.capture.status if self.capture else None
        return {
            "name": self.name,
            "enabled": self.config.enabled,
            "stream_url": self.stream_url,
            "has_stream": self.stream_source is not None,
            "tracked_labels": list(self.config.objects.track),
            "status": "online" if cap and cap.online else "offline",
            "error": cap.error if cap else None,
            "last_frame_time": cap.last_frame_time if cap else None,
            "fps": round(self.capture.input_fps.rate, 2) if self.capture else 0.0,
            "sample_fps": round(self.capture.sample_fps.rate, 2) if self.capture else 0.0,
            "detect_fps": round(self.detect_fps.rate, 2),
            "resolution": [cap.width, cap.height] if cap and cap.width else None,
            "codec": cap.codec if cap else None,
            "detect": {"enabled": self.detect_enabled, "fps": self.config.detect.fps,
                       "width": self.config.detect.width,
                       "height": self.config.detect.height},
            "motion": {
                "active": time.time() - self.last_motion < 2.0,
                "percent": round(self.motion.motion_percent, 1),
                "recalibrations": self.motion.recalibrations,
            },
            "objects": self.tracker.counts(),
            "event_id": self.events.current.id if self.events.current else None,
            "zones": sorted(self.config.zones),
            "switches": {"detect": self.detect_enabled,
                         "record": bool(self.recorder and self.recorder.writer.enabled),
                         "risk": self.events.risk_enabled},
            "record": self._record_status(),
            "stats": {
                "frames": self.stats.frames,
                "dropped": self.stats.dropped,
                "detect_runs": self.stats.detect_runs,
                "regions": self.stats.regions,
                "motion_frames": self.stats.motion_frames,
                "events_opened": self.events.opened,
                "open_to_risk_ms": round(self.events.open_to_risk_ms, 2),
                "reconnects": max(0, cap.connects - 1) if cap else 0,
                "decode_errors": cap.decode_errors if cap else 0,
                # Skipped without reconnecting; a separate record input's count too.
                "demux_errors": sum(c.status.demux_errors for c in (
                    self.capture, self.record_capture) if c is not None),
                "process_ms": round(self.stats.process_ms, 2),
                "processed": self.stats.processed,
                "lag_ms": round(self.stats.lag_ms, 1),
                "lag_total_s": round(self.stats.lag_total_s, 3),
                "snapshot_frames_held": self.events.frames_held,
            },
        }
