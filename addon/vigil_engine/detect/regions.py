"""Where to look: square regions around motion and tracked objects.

Squeezing a whole 640x360 frame into the model's 300x300 input makes a distant
person a few pixels tall and the model misses them. Cropping squares around what
changed keeps small objects at (or above) native scale. Results from
overlapping squares are merged afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from .types import Box, Detection

MARGIN = 1.3
MAX_REGIONS = 4


def box_area(b: Sequence[float]) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def intersection(a: Sequence[float], b: Sequence[float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def iou(a: Sequence[float], b: Sequence[float]) -> float:
    inter = intersection(a, b)
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0


def _square_around(box: Sequence[float], min_side: int, width: int, height: int) -> Box:
    """Smallest square >= min_side containing ``box`` with a margin, kept inside the frame."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    side = max(box[2] - box[0], box[3] - box[1]) * MARGIN
    side = int(min(max(side, min_side), min(width, height)))
    x1 = int(min(max(cx - side / 2, 0), width - side))
    y1 = int(min(max(cy - side / 2, 0), height - side))
    return (x1, y1, x1 + side, y1 + side)


def _union(a: Box, b: Box) -> Box:
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def plan_regions(boxes: Iterable[Sequence[float]], width: int, height: int,
                 model_size: int = 300) -> list[Box]:
    """Squares to run the model on, merged where they overlap, at most MAX_REGIONS."""
    min_side = min(model_size, width, height)
    regions = [_square_around(b, min_side, width, height) for b in boxes]
    merged = True
    while merged and len(regions) > 1:
        merged = False
        for i in range(len(regions)):
            for j in range(i + 1, len(regions)):
                a, b = regions[i], regions[j]
                inter = intersection(a, b)
                if inter <= 0:
                    continue
                # Merge when a square around both is not much bigger than the pair.
                candidate = _square_around(_union(a, b), min_side, width, height)
                if box_area(candidate) <= 1.6 * (box_area(a) + box_area(b) - inter):
                    regions[i] = candidate
                    del regions[j]
                    merged = True
                    break
            if merged:
                break
    if len(regions) > MAX_REGIONS:
        # Too much to look at piecemeal: one squeezed full frame plus the biggest squares.
        regions.sort(key=box_area, reverse=True)
        regions = [(0, 0, width, height), *regions[: MAX_REGIONS - 1]]
    return regions


def merge_detections(items: list[Detection], iou_threshold: float = 0.45) -> list[Detection]:
    """Per-label non-maximum suppression across regions (also drops nested duplicates)."""
    kept: list[Detection] = []
    for det in sorted(items, key=lambda d: d.score, reverse=True):
        duplicate = False
        for other in kept:
            if other.label != det.label:
                continue
            inter = intersection(det.box, other.box)
            smaller = min(box_area(det.box), box_area(other.box)) or 1.0
            if iou(det.box, other.box) > iou_threshold or inter / smaller > 0.85:
                duplicate = True
                break
        if not duplicate:
            kept.append(det)
    return kept
