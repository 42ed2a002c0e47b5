"""A second opinion on Frigate's detection (``bypass_filter: false``).

Vigil's own detector looks at a handful of frames spread over the clip; the
event stands when it finds the label Frigate reported, and is dismissed when it
does not (Frigate's false positives: a shadow "person", a bin "dog").
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import av
import numpy as np

from ...capture.source import SCALER_THREADS
from ...detect.pool import DetectorPool
from ...detect.types import Box

_LOGGER = logging.getLogger(__name__)
FRAMES = 8
MIN_SCORE = 0.5


def sample_frames(path: Path, count: int = FRAMES, max_side: int = 960) -> list[np.ndarray]:
    """Up to ``count`` RGB frames spread evenly over the clip (blocking: run in a thread)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = float(stream.duration * stream.time_base) if stream.duration else (
            container.duration / 1e6 if container.duration else 0.0)
        targets = [duration * (i + 0.5) / count for i in range(count)] if duration else []
        frames: list[np.ndarray] = []
        for frame in container.decode(stream):
            t = float(frame.pts * stream.time_base) if frame.pts is not None else 0.0
            if not targets or t >= targets[0]:
                scale = min(1.0, max_side / max(frame.width, frame.height))
                img = frame.to_ndarray(format="rgb24", width=int(frame.width * scale) // 2 * 2,
                                       height=int(frame.height * scale) // 2 * 2,
                                       threads=SCALER_THREADS)
                frames.append(img)
                if targets:
                    targets.pop(0)
                if len(frames) >= count or (duration and not targets):
                    break
        return frames


def tiles(width: int, height: int) -> list[Box]:
    side = min(width, height)
    squares = {(x, y, x + side, y + side) for x in (0, width - side) for y in (0, height - side)}
    return [(0, 0, width, height), *sorted(squares)]


async def confirms(pool: DetectorPool, clip: Path, label: str) -> bool:
    """True when Vigil's detector sees ``label`` in at least one sampled frame."""
    frames = await asyncio.to_thread(sample_frames, clip)
    for rgb in frames:
        h, w = rgb.shape[:2]
        found = await pool.detect(rgb, tiles(w, h), MIN_SCORE, frozenset({label}))
        if any(d.label == label and d.score >= MIN_SCORE for d in found):
            return True
    _LOGGER.info("Vigil's detector did not find a %s in %d frame(s) of %s", label,
                 len(frames), clip.name)
    return False
