"""Recall: what the normal pipeline finds against an exhaustive look at every frame.

Why: speed has no counterweight without a recall figure. A security system is
judged by the person it did not report, so every change that makes detection
cheaper (fewer regions, a slower cadence for settled objects) must show here
that it still finds the people and vehicles an exhaustive search finds.

The reference runs the same model on every frame of the clip over a grid of
overlapping model-sized tiles at native scale plus the whole frame squeezed
(so people taller than a tile are found too), and follows the detections with
the engine's own tracker (same confirmation rules). The pipeline under test is
the engine's per-sample path at ``detect.fps``: motion on luma, the look planner's
squares around motion and tracked objects (its budget included), the connect scan,
the detector pool, the tracker, cadence included.

A reference track counts when it is a person or a vehicle at least
``--min-height`` px tall at some point; it is *found* when a confirmed pipeline
track of the same kind overlaps it (IoU >= 0.3) at some common moment. A
pipeline track that overlaps no reference track of its kind is a false track.

Between two looks at someone it follows (by design up to about a second apart:
the planner's revisit of a crowd's squares and its whole-frame look) the engine
reports them where the tracker predicts them. A moment of that counts as the
pipeline having the person, for recall only, and only within that second after
the track was last seen; false tracks are judged on sightings alone. The report
says how many reference tracks were found only that way.

The reference is cached under var/bench/ (keyed by the clip, the model and the
frame size), so only the first run pays for it.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import inspect
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from vigil_engine.config import CameraConfig, parse_config
from vigil_engine.detect.model import MODEL_NAME, default_model_dir
from vigil_engine.detect.planner import CROWD_KNOWN_EVERY, WHOLE_FRAME_EVERY, LookPlanner
from vigil_engine.detect.pool import DetectorPool
from vigil_engine.detect.regions import iou, look_around_tiles
from vigil_engine.detect.types import Box, Detection
from vigil_engine.motion.detector import MotionDetector
from vigil_engine.track.tracker import Tracker

ROOT = Path(__file__).resolve().parents[1]
FOOTAGE_DIR = Path(os.environ.get("VIGIL_FOOTAGE_DIR", ROOT / "var" / "footage"))
CACHE_DIR = ROOT / "var" / "bench"
VEHICLES = frozenset({"car", "truck", "bus", "motorcycle", "bicycle"})
TRACKED = ("person", "car", "truck", "bus", "motorcycle", "bicycle")
MATCH_IOU = 0.3


def kind(label: str) -> str:
    return "vehicle" if label in VEHICLES else label


@dataclass
class Track:
    """One confirmed track: its label and where it was at each moment it was seen."""

    label: str
    boxes: dict[float, Box] = field(default_factory=dict)
    # Pipeline tracks only: where the tracker put it at samples between two looks.
    between_looks: dict[float, Box] = field(default_factory=dict)

    @property
    def height(self) -> int:
        return max(b[3] - b[1] for b in self.boxes.values())

    @property
    def span(self) -> tuple[float, float]:
        return min(self.boxes), max(self.boxes)

    def box_near(self, t: float, tolerance: float) -> Box | None:
        """The box seen closest to ``t`` (within ``tolerance`` seconds)."""
        best = min(self.boxes, key=lambda k: abs(k - t))
        return self.boxes[best] if abs(best - t) <= tolerance else None


def camera_config(path: Path, width: int, height: int, fps: float, data_dir: Path
                  ) -> CameraConfig:
    cfg = parse_config({"cameras": {"recall": {
        "inputs": [{"url": str(path), "roles": ["detect"]}],
        "detect": {"fps": fps, "width": width, "height": height},
        "objects": {"track": list(TRACKED)}}}}, data_dir=data_dir)
    return cfg.cameras["recall"]


def probe(path: Path) -> tuple[int, int, float]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        rate = float(s.average_rate or s.guessed_rate or 10)
        return s.codec_context.width, s.codec_context.height, rate


def frames(path: Path) -> Iterator[tuple[int, av.VideoFrame]]:
    with av.open(str(path)) as c:
        yield from enumerate(c.decode(video=0))


def tiles(width: int, height: int, size: int) -> list[Box]:
    """Model-sized squares at native scale covering the frame with overlap, plus the frame."""
    def starts(extent: int) -> list[int]:
        if extent <= size:
            return [0]
        n = -(-extent // (size * 3 // 4))  # a quarter of a tile of overlap at least
        return [round(i * (extent - size) / (n - 1)) for i in range(n)] if n > 1 else [0]
    side = min(size, width, height)
    grid = [(x, y, x + side, y + side) for y in starts(height) for x in starts(width)]
    return [(0, 0, width, height), *grid]


def _confirmed(tracker: Tracker, out: dict[str, Track], now: float,
               follow_for: float = 0.0) -> None:
    """Record each confirmed track's sighting at ``now``; with ``follow_for``, also its
    predicted place when it was last seen at most that long ago (between two looks)."""
    for t in tracker.tracks.values():
        if not t.confirmed:
            continue
        if t.last_seen == now:
            out.setdefault(t.id, Track(t.label)).boxes[round(now, 3)] = t.box
        elif t.id in out and 0.0 < now - t.last_seen <= follow_for:
            out[t.id].between_looks[round(now, 3)] = t.predicted_box(now)


def _cache_key(path: Path, model: Path, width: int, height: int) -> str:
    h = hashlib.sha256()
    # The reference is the tracker's output too: a tracker change makes a new one.
    for p in (path, model, Path(inspect.getfile(Tracker))):
        with open(p, "rb") as f:
            h.update(hashlib.file_digest(f, "sha256").digest())
    h.update(f"{width}x{height}:v3".encode())
    return h.hexdigest()[:16]


async def reference(path: Path, cam: CameraConfig, pool: DetectorPool, rate: float
                    ) -> list[Track]:
    """Every frame, every tile: the exhaustive search the pipeline is judged against."""
    w, h = cam.detect.width, cam.detect.height
    grid = tiles(w, h, pool.input_size)
    labels = frozenset(cam.objects.track)
    min_score = min(cam.objects.filter_for(label).min_score for label in cam.objects.track)
    tracker = Tracker(cam)
    out: dict[str, Track] = {}
    for i, vf in frames(path):
        now = i / rate
        rgb = vf.to_ndarray(format="rgb24", width=w, height=h)
        dets = await pool.detect(rgb, grid, min_score, labels)
        tracker.update(dets, now, grid)
        _confirmed(tracker, out, now)
        if i and i % 100 == 0:
            print(f"    reference: {i} frames", flush=True)
    return list(out.values())


@dataclass
class PipelineRun:
    tracks: list[Track]
    samples: int
    runs: int
    regions: int
    cpu_s: float


async def pipeline(path: Path, cam: CameraConfig, pool: DetectorPool, rate: float
                   ) -> PipelineRun:
    """The engine's per-sample path (capture's sampling and pipeline._process)."""
    w, h = cam.detect.width, cam.detect.height
    labels = frozenset(cam.objects.track)
    min_score = min(cam.objects.filter_for(label).min_score for label in cam.objects.track)
    motion = MotionDetector(w, h, cam.motion)
    lw, lh = motion.grid_size
    tracker = Tracker(cam)
    planner = LookPlanner(w, h, pool.input_size, cam.detect.fps)
    every = max(1, round(rate / cam.detect.fps))
    # How long the planner may leave someone it follows unlooked at, by design.
    follow_for = max(CROWD_KNOWN_EVERY / cam.detect.fps, WHOLE_FRAME_EVERY)
    out: dict[str, Track] = {}
    samples = runs = regions = 0
    last_rgb = -1e9
    c0 = time.process_time()
    for i, vf in frames(path):
        if i % every:
            continue
        samples += 1
        now = i / rate
        result = motion.process_grey(vf.to_ndarray(format="gray", width=lw, height=lh))
        tracker.motion_seen(result.boxes, everywhere=result.recalibrated)
        wants_rgb = bool(tracker.regions_to_check(now))
        if not (result.boxes or wants_rgb or now - last_rgb >= 1.0):
            tracker.update([], now, [])
            _confirmed(tracker, out, now, follow_for)
            continue
        rgb = vf.to_ndarray(format="rgb24", width=w, height=h)
        last_rgb = now
        scan = look_around_tiles(w, h) if samples == 1 else []  # the engine's connect scan
        planner.looked(scan, now)
        planned: list[Box] = scan + planner.plan(result.boxes, *tracker.due_looks(now), now)
        dets: list[Detection] = []
        if planned:
            dets = await pool.detect(rgb, planned, min_score, labels)
            runs += 1
            regions += len(planned)
        tracker.update(dets, now, planned)
        _confirmed(tracker, out, now, follow_for)
    return PipelineRun(list(out.values()), samples, runs, regions, time.process_time() - c0)


def _first_match(a: Track, b: Track, tolerance: float, between_looks: bool = False
                 ) -> float | None:
    """The first moment ``a`` overlaps ``b`` (None: never); ``between_looks`` includes
    ``a``'s predicted places between sightings."""
    boxes = {**a.between_looks, **a.boxes} if between_looks else a.boxes
    for t in sorted(boxes):
        other = b.box_near(t, tolerance)
        if other is not None and iou(boxes[t], other) >= MATCH_IOU:
            return t
    return None


def _overlaps(a: Track, b: Track, tolerance: float, between_looks: bool = False) -> bool:
    return _first_match(a, b, tolerance, between_looks) is not None


def score(ref: list[Track], got: list[Track], min_height: int, tolerance: float
          ) -> dict[str, Any]:
    wanted = [r for r in ref if kind(r.label) in ("person", "vehicle") and r.height >= min_height]
    missed = [r for r in wanted
              if not any(kind(g.label) == kind(r.label) and _overlaps(g, r, tolerance, True)
                         for g in got)]
    # Found, but not on sightings alone: only at a followed track's predicted place.
    between_only = [r for r in wanted if r not in missed
                    and not any(kind(g.label) == kind(r.label) and _overlaps(g, r, tolerance)
                                for g in got)]
    # How long after the reference confirmed someone the pipeline had them too.
    delays = []
    for r in wanted:
        firsts = [m for g in got if kind(g.label) == kind(r.label)
                  if (m := _first_match(g, r, tolerance)) is not None]
        if firsts:
            delays.append(max(0.0, min(firsts) - r.span[0]))
    delays.sort()
    false = [g for g in got
             if not any(kind(g.label) == kind(r.label) and _overlaps(g, r, tolerance)
                        for r in ref)]
    return {
        "reference_tracks": len(wanted),
        "found": len(wanted) - len(missed),
        "found_between_looks": len(between_only),
        "recall": (len(wanted) - len(missed)) / len(wanted) if wanted else 1.0,
        "delay_p50_s": delays[len(delays) // 2] if delays else 0.0,
        "delay_p95_s": delays[min(len(delays) - 1, int(0.95 * len(delays)))] if delays else 0.0,
        "pipeline_tracks": len(got),
        "false_tracks": len(false),
        "false_rate": len(false) / len(got) if got else 0.0,
        "missed": [{"label": r.label, "from_s": round(r.span[0], 1), "to_s": round(r.span[1], 1),
                    "at": _center(r), "height_px": r.height} for r in missed],
        "false": [{"label": g.label, "from_s": round(g.span[0], 1), "to_s": round(g.span[1], 1),
                   "at": _center(g), "height_px": g.height} for g in false],
    }


def _center(t: Track) -> list[int]:
    b = t.boxes[min(t.boxes)]
    return [(b[0] + b[2]) // 2, (b[1] + b[3]) // 2]


def _to_json(tracks: list[Track]) -> list[dict[str, Any]]:
    return [{"label": t.label, "boxes": [[k, *v] for k, v in t.boxes.items()]} for t in tracks]


def _from_json(raw: list[dict[str, Any]]) -> list[Track]:
    return [Track(r["label"], {float(b[0]): (b[1], b[2], b[3], b[4]) for b in r["boxes"]})
            for r in raw]


async def measure(path: Path, min_height: int, fps: float) -> dict[str, Any]:
    width, height, rate = probe(path)
    with tempfile.TemporaryDirectory(prefix="vigil-recall-") as tmp:
        cam = camera_config(path, width, height, fps, Path(tmp))
        pool = DetectorPool(None, None, threads=2)
        try:
            key = _cache_key(path, default_model_dir() / MODEL_NAME, width, height)
            cache = CACHE_DIR / f"recall-ref-{path.stem}-{key}.json"
            if cache.is_file():
                ref = _from_json(json.loads(cache.read_text()))
                ref_note = f"cached ({cache.name})"
            else:
                t0 = time.monotonic()
                ref = await reference(path, cam, pool, rate)
                CACHE_DIR.mkdir(parents=True, exist_ok=True)
                cache.write_text(json.dumps(_to_json(ref)))
                ref_note = f"computed in {time.monotonic() - t0:.0f} s"
            run = await pipeline(path, cam, pool, rate)
        finally:
            pool.close()
    result = score(ref, run.tracks, min_height, tolerance=1.0 / fps)
    result.update({
        "clip": path.name, "size": [width, height], "fps": fps, "reference": ref_note,
        "samples": run.samples, "detect_runs": run.runs,
        "regions_per_sample": run.regions / max(run.samples, 1),
        "pipeline_cpu_s": round(run.cpu_s, 2),
    })
    return result


def print_result(r: dict[str, Any], target: float) -> None:
    met = "yes" if r["recall"] >= target else "NO"
    print(f"  {r['clip']} ({r['size'][0]}x{r['size'][1]} at {r['fps']:g} detect fps; "
          f"reference {r['reference']})")
    print(f"    recall: {100 * r['recall']:.1f} %  ({r['found']}/{r['reference_tracks']} "
          f"people and vehicles >= min height; target >= {100 * target:.0f} %, met {met})")
    on_sightings = (r["found"] - r["found_between_looks"]) / max(r["reference_tracks"], 1)
    print(f"    of which {r['found_between_looks']} only between two looks at someone followed "
          f"(on sightings alone: {100 * on_sightings:.1f} %)")
    print(f"    found after: p50 {r['delay_p50_s']:.1f} s, p95 {r['delay_p95_s']:.1f} s "
          "(pipeline's first match after the reference confirmed the track)")
    print(f"    false tracks: {100 * r['false_rate']:.1f} %  ({r['false_tracks']} of "
          f"{r['pipeline_tracks']} pipeline tracks match nothing in the reference)")
    print(f"    cost: {r['regions_per_sample']:.2f} regions per sample, {r['detect_runs']} "
          f"detection runs for {r['samples']} samples")
    for m in r["missed"]:
        print(f"    missed {m['label']} {m['from_s']}-{m['to_s']} s at {m['at']}, "
              f"{m['height_px']} px tall")
    for f in r["false"]:
        print(f"    false {f['label']} {f['from_s']}-{f['to_s']} s at {f['at']}, "
              f"{f['height_px']} px tall")


def mirrored(path: Path) -> Path:
    """``path`` flipped left to right (made once, under var/bench/): the same scene, but
    people cross the squares' edges elsewhere and the model sees other pixels, so one
    clip's luck does not make the figure."""
    out = CACHE_DIR / f"{path.stem}-mirror.mp4"
    if path.is_file() and (not out.is_file() or out.stat().st_mtime < path.stat().st_mtime):
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}")
        subprocess.run(["ffmpeg", "-loglevel", "error", "-y", "-i", str(path), "-vf", "hflip",
                        "-c:v", "libx264", "-crf", "18", "-g", "20", "-an",
                        "-f", "mp4", str(tmp)], check=True)
        tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--footage", type=Path, action="append", default=[],
                   help="a clip to measure (repeatable); default: the project's footage")
    p.add_argument("--min-height", type=int, default=40, help="smallest person/vehicle, px")
    p.add_argument("--fps", type=float, default=5.0, help="detect fps of the pipeline")
    p.add_argument("--target", type=float, default=0.98)
    p.add_argument("--json", type=Path, metavar="FILE")
    args = p.parse_args(argv)
    clips = args.footage or [FOOTAGE_DIR / "vtest.mp4", mirrored(FOOTAGE_DIR / "vtest.mp4")]
    print("Recall against an exhaustive reference (every frame, native-scale tiles):",
          flush=True)
    results = []
    for clip in clips:
        if not clip.is_file():
            print(f"  {clip}: no such file", file=sys.stderr)
            return 2
        r = asyncio.run(measure(clip, args.min_height, args.fps))
        print_result(r, args.target)
        results.append(r)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
