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


def relit_clip(image: np.ndarray, out: Path, dark: int, lit: int) -> Path:
    """The still photo for ``dark`` seconds, then the lights on (much brighter at once)
    for ``lit`` seconds, as MPEG-TS."""
    bright = np.clip(image.astype(np.int16) + 80, 0, 255).astype(np.uint8)
    return _encode(lambda t: image if t < dark else bright, dark + lit, 10, out,
                   ["-f", "mpegts"])


Place = Callable[[float], tuple[int, int]]  # t -> (x, y) top left
Sprite = tuple[np.ndarray, Place]


def compose(background: np.ndarray, sprites: list[Sprite], t: float) -> np.ndarray:
    """The empty scene with cut-out people placed where ``place(t)`` says (off-view is ok);
    later sprites are in front of earlier ones."""
    bh, bw = background.shape[:2]
    img = background.copy()
    for sprite, place in sprites:
        x, y = place(t)
        sh, sw = sprite.shape[:2]
        x1, y1, x2, y2 = max(x, 0), max(y, 0), min(x + sw, bw), min(y + sh, bh)
        if x2 > x1 and y2 > y1:
            img[y1:y2, x1:x2] = sprite[y1 - y:y2 - y, x1 - x:x2 - x]
    return img


def overlay_clip(background: np.ndarray, sprites: list[Sprite], out: Path,
                 seconds: int) -> Path:
    """A clip of :func:`compose` at every frame time."""
    return _encode(lambda t: compose(background, sprites, t), seconds, FPS, out, [])


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union else 0.0


def plaza_and_walkers(model: Model, mp4: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray,
                                                         np.ndarray]:
    """From the real footage: its first frame (people in it), the empty plaza, and two
    people cut out of it, each one the model finds on its own frame (checked here)."""
    samples = frames(mp4, 16, 40)
    h, w = samples[0].shape[:2]
    cutouts = []
    for index, wanted in ((35, (176, 349, 243, 528)), (39, (357, 408, 421, 571))):
        rgb = samples[index]
        score, (x1, y1, x2, y2) = max(
            (p for p in people(model, rgb) if _overlap(p[1], wanted) > 0.5),
            key=lambda p: p[0])
        assert score >= 0.75
        cutouts.append(rgb[max(0, y1 - 6):min(h, y2 + 6), max(0, x1 - 6):min(w, x2 + 6)])
    return samples[0], empty_scene(samples[::2]), cutouts[0], cutouts[1]


def crossing(speed: float, phase: float, y: int, reverse: bool, delay: float) -> Place:
    """Walks across the whole view (768 px wide) again and again, after ``delay`` s off it."""
    def place(t: float) -> tuple[int, int]:
        if t < delay:
            return -400, y
        x = int(((t - delay) * speed + phase) % 1100) - 160
        return (780 - x if reverse else x), y
    return place


def two_walkers(walker: np.ndarray, other: np.ndarray, delay: float) -> list[Sprite]:
    """Two people crossing the view in opposite directions, again and again; where they
    meet, the other one walks in front (the walker is half hidden, then whole again)."""
    return [(walker, crossing(140, 0, 330, False, delay)),
            (other, crossing(120, 500, 395, True, delay))]
