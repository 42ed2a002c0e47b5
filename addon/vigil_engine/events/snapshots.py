"""Best-frame JPEG snapshots per object and per event.

An object's best view is kept in memory as a reference to its decoded frame (no
copy) until it is written; then only as the paths of its two JPEGs on disk, which a
follow-on event reads back (keeping the bytes cost about 1 MB per busy camera).
Files are written atomically (temp name, then rename) off the event loop, so a crash
never leaves a half-written JPEG behind a ``has_snapshot`` flag.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..detect.types import Box

COLOURS = {"person": (255, 64, 64), "car": (64, 160, 255), "dog": (255, 200, 0),
           "cat": (200, 100, 255)}


@dataclass(frozen=True, slots=True)
class BoxInFrame:
    object_id: str
    label: str
    score: float
    box: Box


@dataclass(frozen=True, slots=True)
class BestFrame:
    """One object's best view: its frame until written, then only where it was written."""

    quality: float
    time: float
    rgb: np.ndarray | None
    boxes: tuple[BoxInFrame, ...]
    files: tuple[Path, Path] | None = None  # plain, boxed with this object highlighted


def encode_view(view: BestFrame, highlight: str) -> tuple[bytes, bytes]:
    """The plain and the boxed JPEG of ``view``, ``highlight`` its own object's id (so the
    same two serve as the object's snapshot and, when it is the best, the event's).
    OSError: a written view's files are gone (its event was deleted meanwhile)."""
    if view.files is not None:
        return view.files[0].read_bytes(), view.files[1].read_bytes()
    if view.rgb is None:
        raise ValueError("a best view has neither its frame nor its files")
    return encode_jpeg(view.rgb), encode_jpeg(view.rgb, view.boxes, highlight=highlight)


def frame_quality(score: float, area: int, frame_area: int) -> float:
    """Prefer confident, large views (a face-sized person beats a distant one)."""
    size = min(1.0, area / max(1.0, 0.08 * frame_area))
    return score * (0.5 + 0.5 * size**0.5)


def encode_jpeg(rgb: np.ndarray, boxes: tuple[BoxInFrame, ...] = (), *,
                highlight: str | None = None, quality: int = 85,
                height: int | None = None) -> bytes:
    image = Image.fromarray(rgb)
    if boxes:
        draw = ImageDraw.Draw(image)
        for b in boxes:
            colour = COLOURS.get(b.label, (0, 255, 128))
            width = 3 if highlight is None or b.object_id == highlight else 1
            draw.rectangle(b.box, outline=colour, width=width)
            draw.text((b.box[0] + 3, max(0, b.box[1] - 12)), f"{b.label} {b.score:.0%}",
                      fill=colour)
    if height and height < image.height:
        image = image.resize((max(1, image.width * height // image.height), height))
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class SnapshotWriter:
    """Lays out ``snapshots/<camera>/<event>[-bbox].jpg`` and per-object files."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def event_path(self, camera: str, event_id: str, *, bbox: bool = False) -> Path:
        return self.root / camera / f"{event_id}{'-bbox' if bbox else ''}.jpg"

    def object_path(self, camera: str, event_id: str, object_id: str, *,
                    bbox: bool = False) -> Path:
        return self.root / camera / event_id / f"{object_id}{'-bbox' if bbox else ''}.jpg"

    def write_event(self, camera: str, event_id: str, jpegs: tuple[bytes, bytes]) -> None:
        write_atomic(self.event_path(camera, event_id), jpegs[0])
        write_atomic(self.event_path(camera, event_id, bbox=True), jpegs[1])

    def write_object(self, camera: str, event_id: str, object_id: str,
                     jpegs: tuple[bytes, bytes]) -> tuple[Path, Path]:
        """Writes the object's two JPEGs; returns where (plain, boxed)."""
        paths = (self.object_path(camera, event_id, object_id),
                 self.object_path(camera, event_id, object_id, bbox=True))
        write_atomic(paths[0], jpegs[0])
        write_atomic(paths[1], jpegs[1])
        return paths
