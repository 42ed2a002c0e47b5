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
MAX_REGIONS = 4  # inferences per sample and camera, at most
CUT_EDGE = 0.03  # of a region's side: a box ending this close to an inner region edge was cut
PART_OVERLAP = 0.3  # of a cut box's area inside another box of its label: a piece of it


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


def union(a: Box, b: Box) -> Box:
    """The smallest box holding both."""
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def plan_regions(boxes: Iterable[Sequence[float]], width: int, height: int,
                 model_size: int = 300) -> list[Box]:
    """Squares around ``boxes``, merged where they overlap (how many of them to look at
    in one sample is the planner's choice)."""
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
                if inter >= min(box_area(a), box_area(b)):
                    # One holds the other (two objects near a corner both get the corner's
                    # square): the model need not see the same pixels twice.
                    regions[i] = a if box_area(a) >= box_area(b) else b
                    del regions[j]
                    merged = True
                    break
                # Merge when a square around both is not much bigger than the pair.
                candidate = _square_around(union(a, b), min_side, width, height)
                if box_area(candidate) <= 1.6 * (box_area(a) + box_area(b) - inter):
                    regions[i] = candidate
                    del regions[j]
                    merged = True
                    break
            if merged:
                break
    return regions


def look_around_tiles(width: int, height: int) -> list[Box]:
    """The whole frame, plus its corner squares so distant people keep their size."""
    side = min(width, height)
    return [(0, 0, width, height)] + [
        (x, y, x + side, y + side) for x in sorted({0, width - side})
        for y in sorted({0, height - side})]


def cut_sides(det: Detection, width: int, height: int) -> tuple[bool, bool, bool, bool]:
    """Which sides (left, top, right, bottom) of ``det`` its region's edge cut off: the box
    ends at a region edge that lies inside the frame, so the object may go on beyond it."""
    rx1, ry1, rx2, ry2 = det.region
    x1, y1, x2, y2 = det.box
    tol = max(2.0, CUT_EDGE * max(rx2 - rx1, ry2 - ry1))
    return (rx1 > 0 and x1 - rx1 <= tol, ry1 > 0 and y1 - ry1 <= tol,
            rx2 < width and rx2 - x2 <= tol, ry2 < height and ry2 - y2 <= tol)


def _part_of(det: Detection, cut: tuple[bool, bool, bool, bool], whole: Detection) -> bool:
    """``det`` (cut by its region) is a piece of ``whole``: they overlap, and ``whole``
    goes on past an edge that cut ``det``."""
    if whole.label != det.label or intersection(det.box, whole.box) < PART_OVERLAP * max(
            box_area(det.box), 1.0):
        return False
    rx1, ry1, rx2, ry2 = det.region
    x1, y1, x2, y2 = whole.box
    return ((cut[0] and x1 < rx1) or (cut[1] and y1 < ry1) or (cut[2] and x2 > rx2)
            or (cut[3] and y2 > ry2))


def merge_detections(items: list[Detection], iou_threshold: float = 0.45,
                     size: tuple[int, int] | None = None) -> list[Detection]:
    """Per-label non-maximum suppression across regions (also drops nested duplicates).

    A region's edge can cut a person in two: the model then reports the part it saw
    (a head and shoulders) as a person of its own. When another region saw the whole
    person, that piece is dropped: it is the same person, not a second one (and a track
    fed such pieces drifts off the person it follows). ``size`` is the frame's (width,
    height); without it, the extent of the regions stands in for the frame."""
    if size is None:
        regions = [d.region for d in items]
        size = (max((r[2] for r in regions), default=0), max((r[3] for r in regions), default=0))
    cuts = [cut_sides(d, *size) for d in items]
    whole = [d for d, c in zip(items, cuts, strict=True) if not any(c)]
    items = [d for d, c in zip(items, cuts, strict=True)
             if not any(c) or not any(_part_of(d, c, w) for w in whole)]
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
