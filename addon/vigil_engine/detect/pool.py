"""One detector shared by every camera, fed through a queue.

Inference is the engine's most expensive step; a single pool (one LiteRT
interpreter per worker thread) keeps CPU use bounded however many cameras
there are, and lets cameras queue rather than oversubscribe the cores.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from .model import Model
from .regions import merge_detections
from .types import Box, Detection

_LOGGER = logging.getLogger(__name__)


@dataclass
class _Job:
    frame: np.ndarray
    regions: list[Box]
    min_score: float
    labels: frozenset[str]
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[list[Detection]]


@dataclass
class DetectorStats:
    inferences: int = 0
    inference_ms: float = 0.0  # exponential moving average
    busy_seconds: float = 0.0
    errors: int = 0
    started: float = field(default_factory=time.monotonic)


def _crop_resized(frame: np.ndarray, region: Box, size: int) -> np.ndarray:
    x1, y1, x2, y2 = region
    crop = frame[y1:y2, x1:x2]
    if crop.shape[0] == size and crop.shape[1] == size:
        return np.ascontiguousarray(crop)
    return np.asarray(Image.fromarray(crop).resize((size, size), Image.Resampling.BILINEAR))


class DetectorPool:
    """Thread workers that each own an interpreter; ``detect`` is awaited from the loop."""

    def __init__(self, model_path: Path | None, labels_path: Path | None, threads: int,
                 workers: int = 1) -> None:
        # Load once up front so a broken model fails start-up, not the first frame.
        self._models = [Model(model_path, labels_path, threads) for _ in range(workers)]
        self.labels = self._models[0].labels
        self.input_size = self._models[0].input_size
        self.model_name = self._models[0].path.name
        self.stats = DetectorStats()
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._threads = [
            threading.Thread(target=self._work, args=(m,), name=f"detector-{i}", daemon=True)
            for i, m in enumerate(self._models)
        ]
        for t in self._threads:
            t.start()

    @property
    def queue_depth(self) -> int:
        return self._jobs.qsize()

    async def detect(self, frame: np.ndarray, regions: list[Box], min_score: float,
                     labels: frozenset[str]) -> list[Detection]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[list[Detection]] = loop.create_future()
        self._jobs.put(_Job(frame, regions, min_score, labels, loop, fut))
        return await fut

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
        for t in self._threads:
            t.join(timeout=5)

    def _work(self, model: Model) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                result = self._run(model, job)
            except Exception as err:  # keep the worker alive; the camera sees the error
                self.stats.errors += 1
                _LOGGER.exception("detection failed")
                job.loop.call_soon_threadsafe(_set_exception, job.future, err)
            else:
                job.loop.call_soon_threadsafe(_set_result, job.future, result)

    def _run(self, model: Model, job: _Job) -> list[Detection]:
        found: list[Detection] = []
        size = model.input_size
        for region in job.regions:
            image = _crop_resized(job.frame, region, size)
            start = time.perf_counter()
            raw = model.detect(image, job.min_score)
            elapsed = time.perf_counter() - start
            st = self.stats
            st.inferences += 1
            st.busy_seconds += elapsed
            ms = elapsed * 1000
            st.inference_ms = ms if st.inferences == 1 else st.inference_ms * 0.95 + ms * 0.05
            rx1, ry1, rx2, ry2 = region
            rw, rh = rx2 - rx1, ry2 - ry1
            for d in raw:
                if d.label not in job.labels:
                    continue
                x1, y1, x2, y2 = d.box
                box = (int(rx1 + x1 * rw), int(ry1 + y1 * rh),
                       int(rx1 + x2 * rw), int(ry1 + y2 * rh))
                found.append(Detection(d.label, d.score, box, region))
        return merge_detections(found, size=(job.frame.shape[1], job.frame.shape[0]))


def _set_result(fut: asyncio.Future[list[Detection]], value: list[Detection]) -> None:
    if not fut.done():
        fut.set_result(value)


def _set_exception(fut: asyncio.Future[list[Detection]], err: BaseException) -> None:
    if not fut.done():
        fut.set_exception(err)
