"""Clips on demand: find segments, assemble off the loop, cache the result."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import Any

from ..config import CameraConfig
from ..store.recordings import RecordingIndex
from .clips import NoFootage, assemble
from .retention import Retention

MAX_EXPORT_SECONDS = 3600.0


class ClipError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ClipService:
    def __init__(self, root: Path, clips_root: Path, index: RecordingIndex,
                 retention: Retention) -> None:
        self.root = root
        self.clips_root = clips_root
        self.index = index
        self.retention = retention
        self._locks: dict[str, asyncio.Lock] = {}
        self.built = 0
        self.build_seconds = 0.0

    async def _build(self, camera: str, start: float, end: float, out: Path,
                     cacheable: bool) -> Path:
        key = str(out)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if cacheable and await asyncio.to_thread(out.is_file):
                return out
            segments = await self.index.overlapping(camera, start, end)
            if not segments:
                raise ClipError(404, "no_recording", "nothing was recorded in that span")
            with self.retention.using([s.path for s in segments]):
                t0 = time.perf_counter()
                try:
                    await asyncio.to_thread(assemble, self.root, segments, start, end, out)
                except NoFootage:
                    raise ClipError(404, "no_recording",
                                    "nothing was recorded in that span") from None
                except FileNotFoundError:
                    raise ClipError(404, "no_recording",
                                    "the footage for that span was just purged") from None
                self.built += 1
                self.build_seconds += time.perf_counter() - t0
        if not cacheable:
            self._locks.pop(key, None)
        return out

    async def event_clip(self, camera: CameraConfig, event: dict[str, Any]) -> Path:
        if not camera.record.enabled:
            raise ClipError(404, "no_clip", f"camera {camera.name!r} does not record")
        rec = camera.record
        now = time.time()
        start = event["start_time"] - rec.pre_capture
        end = (event["end_time"] or now) + rec.post_capture
        # A clip is final once the event ended and its post-capture has been recorded.
        recorded_to = max((s.end_time for s in await self.index.overlapping(
            camera.name, end - 1, end + 3600)), default=0.0)
        final = event["end_time"] is not None and recorded_to >= end
        name = f"{event['id']}.mp4" if final else f"{event['id']}-{int(now)}.partial.mp4"
        out = self.clips_root / camera.name / name
        return await self._build(camera.name, start, end, out, cacheable=final)

    async def export(self, camera: CameraConfig, start: float, end: float) -> Path:
        if not camera.record.enabled:
            raise ClipError(404, "no_recording", f"camera {camera.name!r} does not record")
        if end <= start:
            raise ClipError(400, "invalid_parameter", "end: must be after start")
        if end - start > MAX_EXPORT_SECONDS:
            raise ClipError(400, "invalid_parameter",
                            f"end: span is longer than {MAX_EXPORT_SECONDS:.0f} s")
        final = end < time.time() - 30
        digest = hashlib.sha1(f"{camera.name}:{start:.3f}:{end:.3f}".encode()).hexdigest()[:16]
        out = self.clips_root / camera.name / f"export-{digest}.mp4"
        return await self._build(camera.name, start, end, out, cacheable=final)
