"""Run described scenarios through a risk provider and report agreement.

Lets a user judge a model before trusting it with alerts: every scenario has
the levels a household would accept; the table shows what the provider said,
then the agreement per scenario group (each home, with its own location and
time zone: night and the times in summaries are that home's local ones).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from vigil_engine.config import parse_config
from vigil_engine.events.bus import EventBus
from vigil_engine.risk import rules
from vigil_engine.risk.model import InvalidAnswer, level_for
from vigil_engine.risk.prompt import build_messages
from vigil_engine.risk.providers import ProviderError
from vigil_engine.risk.service import RiskService
from vigil_engine.store.db import Store

FRAME = [[0, 0], [640, 0], [640, 360], [0, 360]]
PATHS = {"approaching": ((300, 100), (310, 300)), "leaving": ((300, 300), (310, 100)),
         "passing": ((50, 200), (600, 205)), "still": ((300, 200), (302, 202))}


def build_config(doc: dict[str, Any], args: argparse.Namespace, data: Path) -> Any:
    cameras = {}
    for name, cam in doc["cameras"].items():
        zones = {z: {"coordinates": FRAME, **spec} for z, spec in cam.get("zones", {}).items()}
        cameras[name] = {"inputs": [{"url": "rtsp://127.0.0.1:1/unused"}],
                         "description": cam.get("description", ""), "zones": zones}
    risk: dict[str, Any] = {"provider": args.provider}
    if args.provider != "rules":
        risk[args.provider] = {"model": args.model, "timeout": args.timeout,
                               **({"base_url": args.base_url} if args.base_url else {}),
                               **({"api_key_env": args.api_key_env} if args.api_key_env
                                  else {})}
    return parse_config({"data_dir": str(data), "location": doc.get("location", {}),
                         "risk": risk, "cameras": cameras})


def scenario_event(sc: dict[str, Any], tz: ZoneInfo | None) -> dict[str, Any]:
    start = datetime.fromisoformat(sc["time"]).replace(tzinfo=tz).timestamp()
    objects = []
    for o in sc["objects"]:
        dwell = float(o.get("dwell", 10))
        (x0, y0), (x1, y1) = PATHS[o.get("direction", "still")]
        objects.append({"id": secrets.token_hex(4), "label": o["label"],
                        "top_score": o.get("score", 0.85), "zones": o.get("zones", []),
                        "first_seen": start, "last_seen": start + dwell,
                        "stationary": False, "loitering": bool(o.get("loitering")),
                        "path": [[start, x0, y0], [start + dwell, x1, y1]]})
    return {"id": f"{int(start * 1000)}-{secrets.token_hex(3)}", "camera": sc["camera"],
            "start_time": start, "end_time": start + max(o["last_seen"] - start
                                                         for o in objects),
            "labels": sorted({o["label"] for o in objects}), "zones": [], "objects": objects}


def homes_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Scenario files list homes (location + cameras); an older flat file is one home."""
    if "homes" in doc:
        return dict(doc["homes"])
    return {"home": {"location": doc.get("location", {}), "cameras": doc["cameras"]}}


async def grade_home(args: argparse.Namespace, home: dict[str, Any],
                     scenarios: list[dict[str, Any]], tmp: Path) -> list[tuple[Any, ...]]:
    config = build_config(home, args, tmp)
    store = Store(tmp / "vigil.db")
    service = RiskService(config, store, EventBus())
    tz = service.builder.tz
    rows = []
    try:
        for sc in scenarios:
            await service.set_mode(sc.get("arm_mode", "home"))
            event = scenario_event(sc, tz)
            camera = config.cameras[sc["camera"]]
            ctx = await service.builder.build(camera, event)
            started = time.perf_counter()
            if service.provider is None:
                result = rules.score(camera, ctx)
                score, activity = result["risk_score"], result["activity_type"]
                note = ""
            else:
                try:
                    answer = await service.provider.complete(build_messages(ctx))
                    score, activity = answer.data["risk_score"], answer.data["activity_type"]
                    note = ""
                except (InvalidAnswer, ProviderError) as err:
                    score, activity, note = -1, "-", f"error: {err}"
            ms = (time.perf_counter() - started) * 1000
            level = level_for(score) if score >= 0 else "-"
            ok = level in sc["expect"]
            rows.append((sc["name"], "/".join(sc["expect"]), level, score, activity, ms,
                         "yes" if ok else "NO", note))
    finally:
        await service.stop()
        store.close()
    return rows


async def grade(args: argparse.Namespace, doc: dict[str, Any]) -> int:
    homes = homes_of(doc)
    default = next(iter(homes))
    groups: dict[str, list[tuple[Any, ...]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, home in homes.items():
            scenarios = [sc for sc in doc["scenarios"] if sc.get("home", default) == name]
            unknown = [sc["name"] for sc in doc["scenarios"] if sc.get("home", default)
                       not in homes]
            if unknown:
                raise SystemExit(f"scenario {unknown[0]!r}: home is not in homes")
            if scenarios:
                (Path(tmp) / name).mkdir()
                groups[name] = await grade_home(args, home, scenarios, Path(tmp) / name)
    rows = [r for g in groups.values() for r in g]
    width = max(len(r[0]) for r in rows)
    print(f"provider: {args.provider}" + (f" ({args.model})" if args.model else ""))
    print(f"{'scenario':<{width}}  {'expected':<15} {'got':<9} {'score':>5}  "
          f"{'activity':<20} {'ms':>7}  agree")
    for group, group_rows in groups.items():
        zone = homes[group].get("location", {}).get("timezone") or "engine's zone"
        print(f"[{group}, {zone}]")
        for name, exp, level, score, activity, ms, ok, note in group_rows:
            print(f"{name:<{width}}  {exp:<15} {level:<9} {score:>5}  {activity:<20} "
                  f"{ms:>7.1f}  {ok}{'  ' + note if note else ''}")
    for group, group_rows in groups.items():
        n = sum(r[6] == "yes" for r in group_rows)
        print(f"group {group}: {n}/{len(group_rows)} ({100 * n / len(group_rows):.0f}%)")
    agree, total = sum(r[6] == "yes" for r in rows), len(rows)
    print(f"agreement: {agree}/{total} ({100 * agree / total:.0f}%)")
    return 0 if agree == total or args.no_fail else 1


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--provider", choices=["rules", "openai", "ollama"], default="rules")
    p.add_argument("--base-url", help="server address, e.g. http://127.0.0.1:8080/v1")
    p.add_argument("--model", default="", help="model name (required for LLM providers)")
    p.add_argument("--api-key-env", help="environment variable holding the API key")
    p.add_argument("--timeout", type=float, default=120.0)
    p.add_argument("--scenarios", default=str(Path(__file__).with_name("risk_scenarios.yaml")))
    p.add_argument("--no-fail", action="store_true",
                   help="exit 0 even when some scenarios disagree")
    args = p.parse_args()
    if args.provider != "rules" and not args.model:
        p.error("--model is required for LLM providers")
    doc = yaml.safe_load(Path(args.scenarios).read_text(encoding="utf-8"))
    return asyncio.run(grade(args, doc))


if __name__ == "__main__":
    sys.exit(main())
