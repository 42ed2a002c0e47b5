"""Vigil recordings figures: timeline query time, seek-to-first-frame, preview CPU.

Why: the Recordings view promises that a day's timeline answers at once (a day
of 10 s segments is 8,640 rows), that a click on it shows video within a
second, and that hover previews cost little CPU per camera. These are measured
on real parts: the real SQLite store and timeline code, the real engine
recording real footage, headless Chromium playing through hls.js. Figures, not
pass/fail tests. Run through ``scripts/bench`` (after bench_system.py) or alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import FOOTAGE_MP4, Figure, Report, _machine

from tests.support.browser import Browser, available
from tests.support.engine import EngineProcess
from vigil_engine.events.snapshots import encode_jpeg
from vigil_engine.record import playback, timeline
from vigil_engine.store import timeline as queries
from vigil_engine.store.db import Store

DAY_SEGMENTS = 8640
HOVER_RATE = 8.0  # preview requests a second while a person sweeps the pointer (120 ms debounce)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


# ----------------------------------------------------------------------------- timeline


async def _timeline_times(db: Path, runs: int) -> list[float]:
    store = Store(db)
    day0 = 1_790_000_000.0 - 1_790_000_000.0 % 86400
    rows = []
    for i in range(DAY_SEGMENTS):
        if 3000 <= i < 3060:
            continue  # a ten-minute outage
        s = day0 + i * 10
        rows.append(("front", f"front/{i}.mp4", s, s + 10, 1_000_000, i % 7 == 0, i % 13 == 0))
    await store.write(lambda c: c.executemany(
        "INSERT INTO recordings (camera, path, start_time, end_time, size, motion, objects) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)", rows))
    await store.write(lambda c: c.execute(
        "INSERT INTO outages (camera, start_time, end_time, reason) VALUES (?, ?, ?, ?)",
        ("front", day0 + 30000, day0 + 30600, "connection refused")))
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        data = await queries.day_rows(store, "front", day0, day0 + 86400)
        body = timeline.build(data, day0, day0 + 86400, day0 + 90000, "continuous", True)
        json.dumps(body)
        times.append((time.perf_counter() - t0) * 1000)
    assert body["segments"] == DAY_SEGMENTS - 60 and len(body["gaps"]) == 1
    store.close()
    return times


def bench_timeline(report: Report, runs: int) -> None:
    print("timeline: a day of 10 s segments (8,640 rows) ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-tl-") as tmp:
        times = asyncio.run(_timeline_times(Path(tmp) / "vigil.db", runs))
    report.add(Figure("timeline_day_p50_ms", "Timeline of a day (8,640 segments), p50",
                      statistics.median(times), "ms"))
    report.add(Figure("timeline_day_p95_ms", "Timeline of a day (8,640 segments), p95",
                      p95(times), "ms", "<= 300 ms", p95(times) <= 300,
                      "SQLite query + spans/gaps/activity + JSON"))


# ----------------------------------------------------------------------------- engine


def recording_engine(tmp: Path) -> EngineProcess:
    return EngineProcess(tmp, {
        "storage": {"check_seconds": 30},
        "cameras": {"yard": {
            "inputs": [{"url": str(FOOTAGE_MP4), "roles": ["detect", "record"], "loop": True}],
            "detect": {"fps": 2, "width": 768, "height": 576},
            "record": {"enabled": True, "segment_seconds": 10},
        }},
    })


def segments(eng: EngineProcess) -> list[dict[str, Any]]:
    now = time.time()
    return eng.json(f"/api/cameras/yard/recordings?since={now - 3600}&until={now}")["segments"]


def bench_previews(report: Report, eng: EngineProcess, count: int) -> None:
    """CPU of the engine's own preview code on its recorded segments (thread CPU time)."""
    segs = segments(eng)
    root = eng.data_dir / "recordings"
    rows = [s for s in eng.json(f"/api/cameras/yard/recordings?since={segs[0]['start_time'] - 1}"
                                f"&until={segs[-1]['end_time'] + 1}")["segments"]]
    with sqlite3.connect(eng.data_dir / "vigil.db") as db:
        paths = {r[0]: r[1] for r in db.execute("SELECT start_time, path FROM recordings")}
    spent = []
    for i in range(count):
        seg = rows[i % len(rows)]
        at = seg["start_time"] + (seg["end_time"] - seg["start_time"]) * (i % 7) / 7
        path = root / paths[seg["start_time"]]
        t0 = time.thread_time()
        rgb, _ = playback.keyframe_preview(path, seg["start_time"], at, 90, lambda _w: False)
        assert rgb is not None
        encode_jpeg(rgb, (), quality=70)
        spent.append(time.thread_time() - t0)
    per = statistics.mean(spent) * 1000
    report.add(Figure("preview_cpu_ms", "Hover preview (one keyframe decode + JPEG)", per,
                      "ms CPU", note=f"{count} previews of 768x576 H.264, none cached; the "
                      "engine's own code on its own segments"))
    budget = per * HOVER_RATE / 10
    report.add(Figure("preview_cpu_per_camera", "Preview CPU per camera while hovering",
                      budget, "% core", "<= 25 % core", budget <= 25,
                      f"{HOVER_RATE:.0f} previews/s (the UI's 120 ms debounce), cache misses "
                      "only; nothing when no one hovers"))
    resp = eng.get(f"/api/cameras/yard/preview.jpg?time={rows[0]['start_time'] + 1:.0f}")
    assert resp.status == 200  # and the HTTP endpoint serves the same


SEEK_JS = """
const done = arguments[arguments.length - 1];
const target = arguments[0];
const v = document.querySelector('[data-testid=rec-video]');
const t0 = performance.now();
const watch = () => v.requestVideoFrameCallback((now, meta) => {
  const wall = Number(v.dataset.base) + meta.mediaTime;
  if (Math.abs(wall - target) < 1.5) done(now - t0);
  else watch();
});
watch();
setTimeout(() => done(null), 10000);
"""


def bench_seek(report: Report, eng: EngineProcess, seeks: int) -> None:
    missing = available()
    if missing:
        print(f"seek: skipped ({missing})", flush=True)
        return
    segs = segments(eng)
    with Browser(width=1280, height=900) as b:
        b.get(eng.base + "/#/recordings/yard")
        b.js_async("const done = arguments[arguments.length - 1];"
                   "fetch('api/login', {method: 'POST', headers: {'Content-Type': "
                   "'application/json'}, body: JSON.stringify({token: arguments[0]})})"
                   ".then(() => done(true))", eng.token)
        rng = random.Random(15)
        times: list[float] = []
        cold: list[float] = []
        for i in range(seeks):
            if i % 2 == 0:  # every other seek from a fresh page: a new player and playlist
                b.js("location.reload()")
                b.wait(lambda: b.count("[data-testid=rec-track]") == 1, 30, what="the timeline")
                b.js("const s = document.querySelector('[data-testid=rec-zoom]');"
                     "s.value = '3600'; s.dispatchEvent(new Event('change'))")
                track = b.find("[data-testid=rec-track]")
            seg = rng.choice(segs[:-1])
            target = rng.uniform(seg["start_time"], seg["end_time"])
            w0, w1 = (float(v) for v in b.js(
                "return document.querySelector('[data-testid=rec-timelines]').dataset.window"
                ).split(","))
            width = b.js("return document.querySelector('[data-testid=rec-track]')"
                         ".getBoundingClientRect().width")
            x = int((target - w0) / (w1 - w0) * width - width / 2)
            asked = (w0 + (x + width / 2) / width * (w1 - w0))
            b.cmd("POST", "/actions", {"actions": [{"type": "pointer", "id": "mouse",
                  "parameters": {"pointerType": "mouse"}, "actions": [
                      {"type": "pointerMove", "origin": {
                          "element-6066-11e4-a52e-4f735466cecf": track}, "x": x, "y": 0},
                      {"type": "pointerDown", "button": 0},
                      {"type": "pointerUp", "button": 0}]}]})
            ms = b.js_async(SEEK_JS, asked, timeout=15)
            if ms is not None:
                times.append(ms / 1000)
                if i % 2 == 0:
                    cold.append(ms / 1000)
            time.sleep(0.3)
    if not times:
        print("seek: no frame ever arrived", flush=True)
        return
    report.add(Figure("seek_first_frame_p50_s", "Click on timeline -> first frame, p50",
                      statistics.median(times), "s"))
    report.add(Figure("seek_first_frame_p95_s", "Click on timeline -> first frame, p95",
                      p95(times), "s", "<= 1 s", p95(times) <= 1.0,
                      f"{len(times)}/{seeks} seeks in Chromium (hls.js), random points of "
                      "a 10 s-segment recording; half from a freshly loaded page"))
    if cold:
        report.add(Figure("seek_first_frame_cold_p95_s",
                          "Click -> first frame with a fresh player, p95", p95(cold), "s",
                          "<= 1 s", p95(cold) <= 1.0, "new playlist, new hls.js, new buffer"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short windows (smoke run)")
    p.add_argument("--json", type=Path, metavar="FILE",
                   help="also write the figures as JSON (to FILE-recordings.json)")
    args, _others = p.parse_known_args(argv)  # scripts/bench passes every script its options
    report = Report(context={**_machine(), "quick": args.quick})
    started = time.monotonic()
    bench_timeline(report, 10 if args.quick else 30)
    with tempfile.TemporaryDirectory(prefix="vigil-bench-rec-") as tmp:
        eng = recording_engine(Path(tmp)).start()
        try:
            need = 3 if args.quick else 6
            print(f"recording {need} segments of 10 s ...", flush=True)
            eng.wait_for(lambda: len(segments(eng)) >= need, 30 + need * 12,
                         what=f"{need} segments")
            bench_previews(report, eng, 10 if args.quick else 40)
            bench_seek(report, eng, 5 if args.quick else 20)
        finally:
            eng.stop()
    return report.finish("Recordings", started, args.json, "recordings")


if __name__ == "__main__":
    sys.exit(main())
