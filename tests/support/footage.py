"""Clips made with ffmpeg from the real footage: people who stand still, enter and stay,
or walk in and out again and again. Every person in them is one the real model finds."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import av
import numpy as np
from PIL import Image

from vigil_engine.detect.model import Model

FPS = 5  # what the engine samples anyway; half the encoding of 10 fps
FFMPEG = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
X264 = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "10",
        "-keyint_min", "10", "-sc_threshold", "0", "-bf", "0"]


def frames(mp4: Path, every: int, count: int) -> list[np.ndarray]:
    """Every ``every``-th frame, ``count`` of them."""
    out: list[np.ndarray] = []
    with av.open(str(mp4)) as c:
        for i, f in enumerate(c.decode(video=0)):
            if i % every == 0:
                out.append(f.to_ndarray(format="rgb24"))
                if len(out) == count:
                    break
    return out


def people(model: Model, rgb: np.ndarray, min_score: float = 0.3
           ) -> list[tuple[float, tuple[int, int, int, int]]]:
    """(score, box) of every person the model finds, looking at the frame in tiles."""
    h, w = rgb.shape[:2]
    side = min(w, h)
    tiles = [(0, 0, w, h)] + [(x, y, x + side, y + side) for x in sorted({0, w - side})
                              for y in sorted({0, h - side})]
    found = []
    for x1, y1, x2, y2 in tiles:
        crop = Image.fromarray(rgb[y1:y2, x1:x2]).resize((model.input_size,) * 2)
        for d in model.detect(np.asarray(crop), min_score):
            if d.label == "person":
                bx1, by1, bx2, by2 = d.box
                box = (int(x1 + bx1 * (x2 - x1)), int(y1 + by1 * (y2 - y1)),
                       int(x1 + bx2 * (x2 - x1)), int(y1 + by2 * (y2 - y1)))
                found.append((d.score, box))
    return found


def empty_scene(samples: list[np.ndarray]) -> np.ndarray:
    """The median of many frames: the walkers vanish, the plaza stays."""
    return np.median(np.stack(samples), axis=0).astype(np.uint8)


def _encode(frame_at: Callable[[float], np.ndarray], seconds: float, fps: int, out: Path,
            fmt: list[str]) -> Path:
    """Frames made in numpy, piped raw into x264 (no image decoding per frame)."""
    h, w = frame_at(0.0).shape[:2]
    proc = subprocess.Popen([*FFMPEG, "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
                             "-r", str(fps), "-i", "-", *X264, *fmt, str(out)],
                            stdin=subprocess.PIPE)
    assert proc.stdin is not None
    try:
        for i in range(int(seconds * fps)):
            proc.stdin.write(frame_at(i / fps).tobytes())
    finally:
        proc.stdin.close()
    if proc.wait() != 0:
        raise RuntimeError(f"ffmpeg could not encode {out}")
    return out


def still_clip(image: np.ndarray, out: Path, seconds: int = 12) -> Path:
    """A camera that films a still photo (what ``ffmpeg -loop 1 -t`` makes), as MPEG-TS."""
    return _encode(lambda t: image, seconds, 10, out, ["-f", "mpegts"])


Sprite = tuple[np.ndarray, Callable[[float], tuple[int, int]]]  # image, t -> (x, y) top left


def overlay_clip(background: np.ndarray, sprites: list[Sprite], out: Path,
                 seconds: int) -> Path:
    """The empty scene with cut-out people placed where ``place(t)`` says (off-view is ok)."""
    bh, bw = background.shape[:2]

    def frame_at(t: float) -> np.ndarray:
        img = background.copy()
        for sprite, place in sprites:
            x, y = place(t)
            sh, sw = sprite.shape[:2]
            x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + sw, bw), min(y + sh, bh)
            if x2 > x1 and y2 > y1:
                img[y1:y2, x1:x2] = sprite[y1 - y:y2 - y, x1 - x:x2 - x]
        return img

    return _encode(frame_at, seconds, FPS, out, [])
