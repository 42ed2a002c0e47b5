"""The event-loop side of recording for one camera.

The capture thread cuts segments; this side indexes them in SQLite with
motion/object flags and records stream outages as gaps.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from ..config import CameraConfig
from ..store.recordings import RecordingIndex
from .activity import ActivityLog
from .segments import Segment, SegmentWriter

_LOGGER = logging.getLogger(__name__)


class Recorder:
    def __init__(self, camera: CameraConfig, root: Path, index: RecordingIndex,
                 activity: ActivityLog, loop: asyncio.AbstractEventLoop) -> None:
        self.camera = camera
        self.config = camera.record
        self.index = index
        self.activity = activity
        self._loop = loop
        self.writer = SegmentWriter(camera.name, root, self.config.segment_seconds,
                                    self._segment_done)
        self._tasks: set[asyncio.Task[None]] = set()
        self.last_segment_end: float | None = None

    def _segment_done(self, seg: Segment) -> None:
        """Capture thread -> loop."""
        self._loop.call_soon_threadsafe(self._spawn, self._index(seg))

    def _spawn(self, coro: Any) -> None:
        task = self._loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _index(self, seg: Segment) -> None:
        motion, objects = self.activity.between(seg.start_time, seg.end_time)
        # In events mode a segment stays undecided until retention knows whether
        # an event (with pre/post capture) needs it.
        kept = self.config.mode == "continuous"
        try:
            await self.index.add(seg.camera, seg.path, seg.start_time, seg.end_time, seg.size,
                                 motion, objects, kept)
        except Exception:
            _LOGGER.exception("%s: cannot index segment %s", seg.camera, seg.path)
            return
        self.last_segment_end = seg.end_time

    def on_stream_status(self, online: bool, when: float, reason: str | None) -> None:
        if online:
            self._spawn(self.index.outage_end(self.camera.name, when))
        else:
            self._spawn(self.index.outage_start(self.camera.name, when, reason or "offline"))

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def status(self) -> dict[str, Any]:
        return {
            "enabled": True,
            "mode": self.config.mode,
            "segments_written": self.writer.segments_written,
            "packets": self.writer.packets,
            "last_segment_end": self.last_segment_end,
            "errors": self.writer.errors,
            "last_error": self.writer.last_error,
            "clock_jumps": self.writer.clock_jumps,
            "reanchors": self.writer.reanchors,
        }
