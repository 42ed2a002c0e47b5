"""Polygon masks rasterised once per camera."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageDraw

Polygon = Sequence[tuple[float, float]]


def polygon_mask(polygons: Sequence[Polygon], width: int, height: int,
                 scale: float = 1.0) -> np.ndarray:
    """Boolean array (height x width), True inside any polygon (coords scaled by ``scale``)."""
    img = Image.new("1", (width, height), 0)
    draw = ImageDraw.Draw(img)
    for poly in polygons:
        draw.polygon([(x * scale, y * scale) for x, y in poly], fill=1, outline=1)
    return np.asarray(img, dtype=bool)


def point_in_polygon(x: float, y: float, poly: Polygon) -> bool:
    """Even-odd rule; points on the boundary may fall either way."""
    inside = False
    n = len(poly)
    j = n - 1
    for i in range(n):
        xi, yi = poly[i]
        xj, yj = poly[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside
