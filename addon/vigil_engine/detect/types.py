"""What the detector hands to the tracker."""

from __future__ import annotations

from dataclasses import dataclass

Box = tuple[int, int, int, int]  # x1, y1, x2, y2 in detect-frame pixels


@dataclass(frozen=True, slots=True)
class Detection:
    label: str
    score: float
    box: Box
    region: Box

    @property
    def area(self) -> int:
        return max(0, self.box[2] - self.box[0]) * max(0, self.box[3] - self.box[1])

    @property
    def bottom_center(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, float(self.box[3]))
