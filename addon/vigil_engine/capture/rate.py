"""Frames-per-second over a sliding window."""

from __future__ import annotations

import time
from collections import deque


class RateMeter:
    def __init__(self, window: float = 5.0) -> None:
        self.window = window
        self._ticks: deque[float] = deque()

    def tick(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._ticks.append(now)
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._ticks and now - self._ticks[0] > self.window:
            self._ticks.popleft()

    @property
    def rate(self) -> float:
        """Ticks per second over the window. Read from another thread than ``tick``'s, so
        it reads a copy and leaves trimming to ``tick``."""
        now = time.monotonic()
        ticks = [t for t in tuple(self._ticks) if now - t <= self.window]
        if len(ticks) < 2:
            return 0.0
        span = max(now - ticks[0], 1e-6)
        return (len(ticks) - 1) / span if span > 0.5 else 0.0
