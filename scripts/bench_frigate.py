"""Vigil with Frigate: alert latency, LLM calls per Frigate event, sustained event rate.

Why: the bridge promises an alert as soon as Frigate says ``new`` (<= 1 s p95 to
a WebSocket client), one LLM call per Frigate event, and no event lost at 100
Frigate events a minute. Measured with a real mosquitto, the Frigate peer from
the tests (Frigate's documented MQTT payloads and HTTP endpoints, real footage
as clips), the engine from its CLI and (when built) a real llama.cpp server.
Figures, not pass/fail tests. Run through ``scripts/bench`` or alone.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import BENCH_DIR, FFMPEG, FOOTAGE_MP4, Figure, Report, _machine

from tests.support.engine import EngineProcess
from tests.support.frigate import FrigatePeer, tracked_object
from tests.support.mosquitto import Mosquitto
from tests.support.wsclient import WsClient


def short_clip() -> Path:
    """Six seconds of the footage (what a Frigate event clip looks like), built once."""
    out = BENCH_DIR / "frigate-clip.mp4"
    if not out.exists():
        BENCH_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run([FFMPEG, "-nostdin", "-v", "error", "-y", "-ss", "20", "-t", "6", "-i",
                        str(FOOTAGE_MP4), "-c", "copy", "-movflags", "+faststart", str(out)],
                       check=True)
    return out


def config(peer: FrigatePeer, broker: Mosquitto, risk: dict[str, Any]) -> dict[str, Any]:
    return {"frigate": [{"name": "bench", "frigate_url": peer.url, "mqtt_host": "127.0.0.1",
                         "mqtt_port": broker.port, "reconnect_delay_s": 1}],
            "mqtt": {"enabled": False}, "risk": risk, "location": {"timezone": "UTC"}}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def sustained(eng: EngineProcess, peer: FrigatePeer, per_minute: int,
                    seconds: float) -> dict[str, Any]:
    """Frigate's rhythm per object: new, an update a second later, end two seconds later."""
    client = WsClient(eng.base)
    await client.connect(eng.token)
    sub = await client.call("events/subscribe")
    sent: dict[str, float] = {}  # Vigil event id is unknown: match on Frigate's id
    latencies: list[float] = []
    ids: list[str] = []

    async def reader() -> None:
        while True:
            push = await client.pushes.get()
            ev = push["event"]
            if push["id"] != sub["id"] or ev["action"] != "new":
                continue
            fid = (ev["data"].get("frigate") or {}).get("event_id")
            if fid in sent:
                latencies.append(time.monotonic() - sent.pop(fid))

    async def one(obj: dict[str, Any]) -> None:
        sent[obj["id"]] = time.monotonic()
        await asyncio.to_thread(peer.event, "new", obj)
        await asyncio.sleep(1.0)
        await asyncio.to_thread(peer.event, "update", obj, score=0.9, top_score=0.93)
        await asyncio.sleep(2.0)
        await asyncio.to_thread(peer.event, "end", obj, top_score=0.93)

    task = asyncio.create_task(reader())
    interval = 60.0 / per_minute
    started = time.monotonic()
    jobs = []
    cams = ("front_door", "driveway", "garden", "garage")
    while time.monotonic() - started < seconds:
        obj = tracked_object(cams[len(ids) % len(cams)], entered_zones=["porch"])
        ids.append(obj["id"])
        jobs.append(asyncio.create_task(one(obj)))
        await asyncio.sleep(max(0.0, started + len(ids) * interval - time.monotonic()))
    window = time.monotonic() - started
    await asyncio.gather(*jobs)
    await asyncio.sleep(2.0)
    task.cancel()
    await client.close()
    return {"ids": ids, "latencies": latencies, "elapsed": window}


def complete(eng: EngineProcess, ids: list[str]) -> int:
    events = eng.all_events(limit=500)
    done = {(e.get("frigate") or {}).get("event_id") for e in events
            if e["end_time"] is not None and e["has_clip"]}
    return sum(1 for i in ids if i in done)


def bench_rate(report: Report, quick: bool, logdir: Path) -> None:
    per_minute, seconds = 100, 30.0 if quick else 120.0
    print(f"\nFrigate bridge: {per_minute} events/min for {seconds:.0f} s (rules scoring)",
          flush=True)
    with Mosquitto(logdir / "mqtt") as broker:
        peer = FrigatePeer(short_clip(), broker.port).start()
        try:
            with tempfile.TemporaryDirectory(prefix="vigil-bench-frigate-") as tmp:
                eng = EngineProcess(Path(tmp), config(peer, broker, {"provider": "rules"}))
                with eng:
                    eng.wait_for(lambda: eng.json("/api/health")["frigate"]["bench"]
                                 ["mqtt_connected"], 20, what="listener")
                    run = asyncio.run(sustained(eng, peer, per_minute, seconds))
                    ids = run["ids"]
                    with contextlib.suppress(TimeoutError):
                        eng.wait_for(lambda: complete(eng, ids) == len(ids), 120, interval=1.0,
                                     what="every event closed with its clip")
                    found = complete(eng, ids)
        finally:
            peer.stop()
    lat = [v * 1000 for v in run["latencies"]]
    report.add(Figure("frigate_new_to_push_p50_ms", "Frigate new -> WebSocket push, p50",
                      pct(lat, 0.5), "ms", "-", None, f"{len(lat)} events under load"))
    report.add(Figure("frigate_new_to_push_p95_ms", "Frigate new -> WebSocket push, p95",
                      pct(lat, 0.95), "ms", "<= 1000 ms", pct(lat, 0.95) <= 1000,
                      f"max {max(lat, default=0):.0f} ms"))
    rate = len(ids) / run["elapsed"] * 60
    report.add(Figure("frigate_events_lost", "Frigate events lost (closed with clip)",
                      len(ids) - found, "events", "0", found == len(ids),
                      f"{len(ids)} events at {rate:.0f}/min for {run['elapsed']:.0f} s"))


def bench_llm(report: Report, quick: bool, logdir: Path) -> None:
    try:
        from tests.support.llm import LlamaServer, model_path, server_command

        server_command()
        model_path()
    except RuntimeError as err:
        print(f"\nLLM calls per Frigate event: skipped ({err})", flush=True)
        return
    count = 5 if quick else 12
    print(f"\nLLM calls per Frigate event ({count} events, real llama.cpp server)", flush=True)
    with LlamaServer(logdir / "llama.log") as llama, Mosquitto(logdir / "mqtt-llm") as broker:
        peer = FrigatePeer(short_clip(), broker.port).start()
        try:
            with tempfile.TemporaryDirectory(prefix="vigil-bench-frigate-llm-") as tmp:
                # The figure counts calls, not speed: a slow (shared) machine must not
                # turn one call into timeouts and retries.
                risk = {"provider": "openai",
                        "openai": {"base_url": llama.base_url, "model": "smollm2",
                                   "timeout": 300}}
                with EngineProcess(Path(tmp), config(peer, broker, risk)) as eng:
                    eng.wait_for(lambda: eng.json("/api/health")["frigate"]["bench"]
                                 ["mqtt_connected"], 20, what="listener")
                    for i in range(count):
                        obj = tracked_object(("front_door", "driveway")[i % 2])
                        peer.event("new", obj)
                        peer.event("update", obj, score=0.92)
                        peer.event("end", obj)
                        peer.event("end", obj)  # Frigate may repeat itself: still one call
                        time.sleep(0.3)

                    def drained() -> bool:
                        jobs = eng.json("/api/risk")["jobs"]
                        ended = [e for e in eng.all_events() if e["end_time"]]
                        return (len(ended) >= count and not jobs.get("pending")
                                and not jobs.get("running"))

                    with contextlib.suppress(TimeoutError):  # a slow LLM: figure from the rest
                        eng.wait_for(drained, 120 + 90 * count, interval=1.0,
                                     what="scoring to finish")
                    n = len(eng.all_events())
                    with sqlite3.connect(eng.data_dir / "vigil.db") as c:
                        # Every request is audited: count them for the events scored to the end.
                        scored, calls = c.execute(
                            "SELECT COUNT(DISTINCT j.event_id), COUNT(a.event_id) FROM risk_jobs j "
                            "LEFT JOIN risk_audit a ON a.event_id = j.event_id "
                            "WHERE j.status IN ('done', 'dead')").fetchone()
                    described = sum(len(v) for v in peer.descriptions.values())
        finally:
            peer.stop()
    per = calls / max(1, scored)
    report.add(Figure("frigate_llm_calls_per_event", "LLM calls per Frigate event", per,
                      "calls", "<= 1.1", scored > 0 and per <= 1.1,
                      f"{calls} calls for {scored} events scored ({n} opened); "
                      f"{described} descriptions written back"))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="short windows (smoke run)")
    p.add_argument("--json", type=Path, metavar="FILE",
                   help="also write the figures as JSON (to FILE-frigate.json)")
    p.add_argument("--only", action="append", help=argparse.SUPPRESS)  # bench_system's option
    args = p.parse_args(argv)
    report = Report(context={**_machine(), "quick": args.quick})
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="vigil-bench-frigate-logs-") as logs:
        bench_rate(report, args.quick, Path(logs))
        bench_llm(report, args.quick, Path(logs))
    return report.finish("Frigate", started, args.json, "frigate")


if __name__ == "__main__":
    sys.exit(main())
