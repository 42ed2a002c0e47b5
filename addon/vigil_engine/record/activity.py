"""A short memory of when a camera saw motion or objects, to flag segments."""

from __future__ import annotations

from collections import deque


class ActivityLog:
    def __init__(self, keep_seconds: float = 600.0) -> None:
        self.keep = keep_seconds
        self._marks: deque[tuple[float, bool, bool]] = deque()

    def note(self, t: float, motion: bool, objects: bool) -> None:
        if not (motion or objects):
            return
        self._marks.append((t, motion, objects))
        while self._marks and t - self._marks[0][0] > self.keep:
            self._marks.popleft()

    def between(self, start: float, end: float) -> tuple[bool, bool]:
        motion = objects = False
        for t, m, o in reversed(self._marks):
            if t < start:
                break
            if t <= end:
                motion |= m
                objects |= o
        return motion, objects
