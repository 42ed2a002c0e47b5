"""Vigil at scale: one engine, 32 cameras from the real RTSP server (28 quiet, 4 busy).

Why: a household grows from two cameras to a dozen and a small business to thirty;
the engine must keep every camera's detect rate, keep alerts fast and stay small in
memory while the busy cameras fight the quiet ones for the detector. Measured with
the engine from its CLI, the GStreamer RTSP server from the tests (a still plaza for
the quiet cameras, the busy campus footage for the others, each camera its own RTSP
session) and a WebSocket client timing every event push. Figures, not pass/fail
tests. Run through ``scripts/bench`` or alone (``--quick``: a one-minute window).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from bench import (
    FOOTAGE_TS,
    CpuWindow,
    Figure,
    Report,
    _engine_config,
    _machine,
    idle_clip,
    memory_mb,
    rss_parts_mb,
    sample_cpu,
)

from tests.support.engine import EngineProcess
from tests.support.rtsp import RtspCamera
from tests.support.wsclient import WsClient

STAT_KEYS = ("frames", "dropped", "detect_runs", "regions", "processed", "lag_total_s")


class PushTimer:
    """Times event open -> WebSocket push for every new event, in its own thread."""

    def __init__(self, eng: EngineProcess) -> None:
        self.eng = eng
        self.latencies: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)
        self.error: BaseException | None = None

    def __enter__(self) -> PushTimer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(15)

    async def _run(self) -> None:
        client = WsClient(self.eng.base)
        try:
            await client.connect(self.eng.token)
            sub = await client.call("events/subscribe")
            while not self._stop.is_set():
                try:
                    push = await asyncio.wait_for(client.pushes.get(), 0.5)
                except TimeoutError:
                    continue
                received = time.time()
                ev = push.get("event", {})
                if push.get("id") == sub["id"] and ev.get("action") == "new":
                    self.latencies.append(received - ev["data"]["opened_at"])
        except Exception as err:  # reported with the figure, never hidden
            self.error = err
        finally:
            await client.close()


def scale_config(urls: dict[str, str], busy: set[str]) -> dict[str, Any]:
    config = _engine_config(urls)
    for name in busy:
        # Follow-on events every 30 s on the busy cameras: many event pushes to time.
        config["cameras"][name]["events"] = {"idle_timeout": 10, "max_length": 30}
    return config


def stats_of(eng: EngineProcess, names: list[str]) -> dict[str, dict[str, float]]:
    cams = {c["name"]: c for c in eng.json("/api/cameras")["cameras"]}
    return {n: {k: float(cams[n]["stats"][k]) for k in STAT_KEYS} for n in names}


def run(report: Report, cameras: int, busy_n: int, window_s: float) -> None:
    print(f"\nScale: one engine, {cameras} cameras ({cameras - busy_n} quiet, {busy_n} busy), "
          f"{window_s:.0f} s window", flush=True)
    with RtspCamera(idle_clip()) as quiet, RtspCamera(FOOTAGE_TS) as crowd:
        urls = {f"quiet{i:02d}": quiet.url for i in range(cameras - busy_n)}
        busy = {f"busy{i}": crowd.url for i in range(busy_n)}
        urls.update(busy)
        names = list(urls)
        with tempfile.TemporaryDirectory(prefix="vigil-bench-scale-") as tmp, \
                EngineProcess(Path(tmp), scale_config(urls, set(busy))) as eng:
            assert eng.proc is not None
            pid = eng.proc.pid
            eng.wait_for(lambda: all(c["status"] == "online"
                                     for c in eng.json("/api/cameras")["cameras"]),
                         timeout=120, interval=1.0, what=f"{cameras} cameras online")
            time.sleep(10)  # past start-up: motion calibrated, detector warm
            before = stats_of(eng, names)
            rss: list[float] = []
            parts: list[tuple[float, float]] = []
            cpu: CpuWindow | None = None
            with PushTimer(eng) as pushes:
                slices = max(1, int(window_s // 15))
                for _ in range(slices):
                    part = sample_cpu(pid, window_s / slices)
                    rss.append(memory_mb(pid)[0])
                    parts.append(rss_parts_mb(pid))
                    cpu = part if cpu is None else CpuWindow(
                        cpu.cpu_s + part.cpu_s, cpu.wall_s + part.wall_s,
                        cpu.system_s + part.system_s, cpu.decode_s + part.decode_s)
            after = stats_of(eng, names)
            _, hwm = memory_mb(pid)
            threads = len(list(Path(f"/proc/{pid}/task").iterdir()))
    assert cpu is not None
    delta = {n: {k: after[n][k] - before[n][k] for k in STAT_KEYS} for n in names}
    frames = sum(d["frames"] for d in delta.values())
    dropped = sum(d["dropped"] for d in delta.values())
    drop_pct = 100.0 * dropped / max(frames + dropped, 1)
    achieved = {n: d["frames"] / cpu.wall_s for n, d in delta.items()}
    worst = min(achieved, key=achieved.__getitem__)
    busy_regions = sum(delta[n]["regions"] for n in busy) / max(
        sum(delta[n]["frames"] for n in busy), 1)
    busy_dropped = sum(delta[n]["dropped"] for n in busy)
    # How late the busy cameras' samples are processed (waiting for the detector).
    busy_lag_ms = 1000 * sum(delta[n]["lag_total_s"] for n in busy) / max(
        sum(delta[n]["processed"] for n in busy), 1)
    report.add(Figure("scale_dropped_pct", f"Dropped detect frames, {cameras} cameras",
                      drop_pct, "%", "<= 0.5 %", drop_pct <= 0.5,
                      f"{dropped:.0f} of {frames + dropped:.0f} samples: {busy_dropped:.0f} on "
                      f"the busy cameras, {dropped - busy_dropped:.0f} on the quiet ones"))
    report.add(Figure("scale_worst_fps", "Worst camera's achieved detect fps",
                      achieved[worst], "fps", "5 fps", achieved[worst] >= 4.9,
                      f"{worst}; busy cameras {busy_regions:.2f} regions per sample, each "
                      f"processed {busy_lag_ms:.0f} ms after it was taken on average"))
    lat = pushes.latencies
    p95 = float(np.percentile(lat, 95)) * 1000 if lat else float("nan")
    note = f"{len(lat)} events" + (f"; push timer failed: {pushes.error!r}"
                                    if pushes.error else "")
    report.add(Figure("scale_push_p95_ms", "Event open -> WebSocket push p95", p95, "ms",
                      "<= 1000 ms", bool(lat) and p95 <= 1000, note))
    anon, files = parts[rss.index(max(rss))]
    report.add(Figure("scale_rss_mb", f"Engine RSS, {cameras} cameras", max(rss), "MB",
                      "<= 250 MB", max(rss) <= 250,
                      f"highest of {len(rss)} samples ({anon:.0f} MB the engine's own, "
                      f"{files:.0f} MB of mapped files); peak (VmHWM) {hwm:.0f} MB; "
                      f"{threads} threads"))
    report.add(Figure("scale_cpu_pct", f"Engine CPU, {cameras} cameras", cpu.percent,
                      "% core", note=f"FFmpeg decoder threads {cpu.decode_percent:.0f} %; "
                      + report.others("scale", cpu.others_percent)))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="a one-minute window (smoke run)")
    p.add_argument("--cameras", type=int, default=32, help="cameras in all (default 32)")
    p.add_argument("--busy", type=int, default=4, help="of which busy (default 4)")
    p.add_argument("--json", type=Path, metavar="FILE",
                   help="also write the figures as JSON (to FILE-scale.json)")
    p.add_argument("--only", action="append", help=argparse.SUPPRESS)  # bench_system's option
    args = p.parse_args(argv)
    if not 0 < args.busy <= args.cameras:
        p.error("--busy must be between 1 and --cameras")
    report = Report(context={**_machine(), "quick": args.quick})
    started = time.monotonic()
    run(report, args.cameras, args.busy, 60.0 if args.quick else 300.0)
    return report.finish("Scale", started, args.json, "scale")


if __name__ == "__main__":
    sys.exit(main())
