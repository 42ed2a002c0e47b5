"""Change detection on downscaled grey frames against a running background.

Runs on every sampled frame, so it must cost well under a millisecond: frames
are subsampled to ~160 px wide, compared with an exponentially averaged
background, and changed pixels are grouped on a coarse cell grid instead of a
full connected-components pass. Global brightness changes (lights on, IR
switch, clouds) are compensated by gain and, when too sudden, reset the
background instead of reporting the whole frame as motion.
"""

from __future__ import annotations

import queue
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..config import MotionConfig
from ..detect.types import Box
from .masks import polygon_mask

TARGET_WIDTH = 160
CELL = 4  # low-res pixels per grid cell side
ALPHA = 0.05  # background learning rate
GLOBAL_FRACTION = 0.45  # more than this changed at once = lighting, not an object
SETTLE_FRAMES = 3  # frames to keep re-learning after a lighting change


class _Scratch:
    """One sample's working arrays (about 310 KB at 768x576)."""

    __slots__ = ("blurred", "changed", "diff", "padded", "rows")

    def __init__(self, lh: int, lw: int) -> None:
        self.padded = np.empty((lh + 2, lw + 2), np.float32)
        self.rows = np.empty((lh + 2, lw), np.float32)
        self.blurred = np.empty((lh, lw), np.float32)
        self.diff = np.empty((lh, lw), np.float32)
        self.changed = np.empty((lh, lw), bool)


# Working arrays shared by every camera's detector, by grid size. Made once and reused
# (allocating them for each of five samples a second per camera cost CPU), but only as
# many as samples are processed at once: one set per camera held 10 MB at 32 cameras.
_SCRATCH: dict[tuple[int, int], queue.SimpleQueue[_Scratch]] = {}


@contextmanager
def _scratch(lh: int, lw: int) -> Iterator[_Scratch]:
    free = _SCRATCH.setdefault((lh, lw), queue.SimpleQueue())
    try:
        arrays = free.get_nowait()
    except queue.Empty:
        arrays = _Scratch(lh, lw)
    try:
        yield arrays
    finally:
        free.put(arrays)


@dataclass(frozen=True, slots=True)
class MotionResult:
    boxes: list[Box]
    changed: float  # fraction of watched pixels that changed
    recalibrated: bool


class MotionDetector:
    def __init__(self, width: int, height: int, config: MotionConfig) -> None:
        self.width, self.height = width, height
        self.step = max(1, round(width / TARGET_WIDTH))
        self.lw = len(range(0, width, self.step))
        self.lh = len(range(0, height, self.step))
        self.threshold = float(config.threshold)
        self.min_pixels = max(1.0, config.min_area / (self.step * self.step))
        masked = (polygon_mask(config.mask, self.lw, self.lh, 1 / self.step)
                  if config.mask else np.zeros((self.lh, self.lw), dtype=bool))
        self.watch = ~masked
        self.watch_count = max(1, int(self.watch.sum()))
        self._watch_all = bool(self.watch.all())
        self._bg: np.ndarray | None = None
        self._bg_mean = 0.0  # of the watched background, kept as the background moves
        self._settle = 0
        self.recalibrations = 0
        self._recent: deque[float] = deque(maxlen=50)

    @property
    def motion_percent(self) -> float:
        """Share of recent frames that had motion (for status and metrics). Read on the
        loop while the capture thread appends: copied in one step (under the GIL), never
        iterated item by item ("deque mutated during iteration" was a 500 on /api/cameras)."""
        recent = tuple(self._recent)
        if not recent:
            return 0.0
        return 100.0 * sum(1 for c in recent if c > 0) / len(recent)

    @property
    def grid_size(self) -> tuple[int, int]:
        """(width, height) of the grey image ``process_grey`` expects."""
        return self.lw, self.lh

    def _grey(self, rgb: np.ndarray) -> np.ndarray:
        small = rgb[:: self.step, :: self.step].astype(np.float32)
        return small[..., 0] * 0.299 + small[..., 1] * 0.587 + small[..., 2] * 0.114

    def _blur(self, grey: np.ndarray, scratch: _Scratch) -> np.ndarray:
        """Separable 3x3 box blur (edges repeated): kills compression noise without scipy.

        Every quiet camera runs this five times a second, so it is written for numpy's
        fast paths: the grey image is cast to float while copied into the padded buffer
        (np.pad alone cost more than the rest), and sums are made in place. Returns the
        sample's scratch buffer."""
        padded, rows, out = scratch.padded, scratch.rows, scratch.blurred
        padded[1:-1, 1:-1] = grey
        padded[0, 1:-1] = padded[1, 1:-1]
        padded[-1, 1:-1] = padded[-2, 1:-1]
        padded[:, 0] = padded[:, 1]
        padded[:, -1] = padded[:, -2]
        np.add(padded[:, :-2], padded[:, 1:-1], out=rows)
        rows += padded[:, 2:]
        np.add(rows[:-2], rows[1:-1], out=out)
        out += rows[2:]
        out *= np.float32(1 / 9)
        return out

    def process(self, rgb: np.ndarray) -> MotionResult:
        """Motion in an RGB frame at detect resolution."""
        with _scratch(self.lh, self.lw) as scratch:
            return self._process(self._blur(self._grey(rgb), scratch), scratch)

    def process_grey(self, grey: np.ndarray) -> MotionResult:
        """Motion in a luma image already scaled to ``grid_size`` (straight from the
        decoder: no RGB conversion needed when nothing moves)."""
        if grey.shape != (self.lh, self.lw):
            raise ValueError(f"grey image is {grey.shape}, expected {(self.lh, self.lw)}")
        with _scratch(self.lh, self.lw) as scratch:
            return self._process(self._blur(grey, scratch), scratch)

    def _process(self, grey: np.ndarray, scratch: _Scratch) -> MotionResult:
        watch = self.watch
        if self._watch_all:
            mean_now = float(grey.mean())
        else:
            mean_now = float(grey[watch].mean()) if watch.any() else 0.0
        if self._bg is None:
            self._bg, self._bg_mean = grey.copy(), mean_now
            return MotionResult([], 0.0, False)
        bg = self._bg
        mean_bg = self._bg_mean
        # Gain compensation: a global brightness shift is not motion.
        gain = mean_bg / mean_now if mean_now > 1.0 else 1.0
        if not 0.2 < gain < 5.0:
            gain = 1.0
        diff = scratch.diff
        if gain != 1.0:
            np.multiply(grey, np.float32(gain), out=diff)
            diff -= bg
        else:
            np.subtract(grey, bg, out=diff)
        np.abs(diff, out=diff)
        changed = np.greater(diff, self.threshold, out=scratch.changed)
        if not self._watch_all:
            changed &= watch
        fraction = np.count_nonzero(changed) / self.watch_count

        if fraction > GLOBAL_FRACTION or abs(mean_now - mean_bg) > 40 or self._settle:
            # Sudden lighting change: relearn the scene instead of reporting it.
            if not self._settle:
                self.recalibrations += 1
                self._settle = SETTLE_FRAMES
            else:
                self._settle -= 1
            np.copyto(bg, grey)
            self._bg_mean = mean_now
            self._recent.append(0.0)
            return MotionResult([], fraction, True)

        # The background is ours alone: blend in place (the gain-adjusted sample in the
        # sample's own buffer, no longer needed); its mean follows the same blend.
        bg *= np.float32(1 - ALPHA)
        grey *= np.float32(gain * ALPHA)
        bg += grey
        self._bg_mean = mean_bg * (1 - ALPHA) + gain * mean_now * ALPHA
        boxes = self._group(changed)
        self._recent.append(fraction if boxes else 0.0)
        return MotionResult(boxes, fraction, False)

    def _group(self, changed: np.ndarray) -> list[Box]:
        """Connected changed cells -> boxes in detect-frame pixels."""
        if not changed.any():
            return []
        gh = -(-self.lh // CELL)
        gw = -(-self.lw // CELL)
        padded = np.zeros((gh * CELL, gw * CELL), dtype=np.uint16)
        padded[: self.lh, : self.lw] = changed
        counts = padded.reshape(gh, CELL, gw, CELL).sum(axis=(1, 3))
        active = counts >= 2
        if not active.any():
            return []
        seen = np.zeros_like(active)
        boxes: list[Box] = []
        for cy, cx in zip(*np.nonzero(active), strict=True):
            if seen[cy, cx]:
                continue
            stack = [(int(cy), int(cx))]
            seen[cy, cx] = True
            y0 = y1 = int(cy)
            x0 = x1 = int(cx)
            pixels = 0
            while stack:
                y, x = stack.pop()
                pixels += int(counts[y, x])
                y0, y1, x0, x1 = min(y0, y), max(y1, y), min(x0, x), max(x1, x)
                for ny in (y - 1, y, y + 1):
                    for nx in (x - 1, x, x + 1):
                        if 0 <= ny < gh and 0 <= nx < gw and active[ny, nx] and not seen[ny, nx]:
                            seen[ny, nx] = True
                            stack.append((ny, nx))
            if pixels < self.min_pixels:
                continue
            s = CELL * self.step
            boxes.append((x0 * s, y0 * s, min(self.width, (x1 + 1) * s),
                          min(self.height, (y1 + 1) * s)))
        return boxes
