"""Zone membership by an object's bottom centre (where it stands, not its head)."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import ZoneConfig
from ..motion.masks import point_in_polygon


@dataclass(frozen=True, slots=True)
class Zone:
    name: str
    polygon: tuple[tuple[float, float], ...]
    labels: frozenset[str]  # empty = every tracked label
    loitering_time: float

    @classmethod
    def from_config(cls, cfg: ZoneConfig) -> Zone:
        return cls(cfg.name, cfg.coordinates, frozenset(cfg.objects), cfg.loitering_time)

    def contains(self, label: str, point: tuple[float, float]) -> bool:
        if self.labels and label not in self.labels:
            return False
        return point_in_polygon(point[0], point[1], self.polygon)
