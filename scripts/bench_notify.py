"""Vigil notification figure: detection -> phone notify call, through the blueprint (fast path).

Why: Frigate users' top complaint is alerts arriving a minute or two late. This measures
the whole path a user waits for: a real engine on real footage opens an event, the
integration fires ``vigil_event``, the notification blueprint (as installed at setup)
decides, signs the image link and calls the phone's notify service. Run by
``scripts/bench`` inside HA's test harness (it is a pytest module so that Home
Assistant runs in-process, exactly as in the integration tests):

    .venv-ha/bin/python -m pytest -c tests/integration/pytest.ini scripts/bench_notify.py -s

``VIGIL_BENCH_QUICK=1`` measures fewer events; ``VIGIL_BENCH_JSON=FILE`` writes JSON.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.setup import async_setup_component

from custom_components.vigil.coordinator import signal_event
from tests.integration.conftest import engine_config, entry_for
from tests.support.engine import EngineProcess
from tests.support.phone import add_phone

TARGET_S = 1.5


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[round(0.95 * (len(ordered) - 1))]


async def test_detection_to_notify_latency(hass: HomeAssistant, tmp_path: Path,
                                           enable_custom_integrations: Any,
                                           socket_enabled: Any) -> None:
    quick = os.environ.get("VIGIL_BENCH_QUICK") == "1"
    wanted = 6 if quick else 20
    hass.config.config_dir = str(tmp_path)
    device_id, calls = add_phone(hass, "Bench phone")
    engine = EngineProcess(tmp_path / "engine", engine_config(plaza={})).start()
    try:
        entry = entry_for(engine)
        entry.add_to_hass(hass)
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        # event id -> (opened_at, start_time, when HA heard of it)
        opened: dict[str, tuple[float, float, float]] = {}

        @callback
        def on_event(action: str, event: dict[str, Any]) -> None:
            if action == "new" and "opened_at" in event:
                opened[event["id"]] = (event["opened_at"], event["start_time"], time.time())

        async_dispatcher_connect(hass, signal_event(entry.entry_id), on_event)
        assert await async_setup_component(hass, "automation", {"automation": [{
            "alias": "Vigil notify (bench)",
            "use_blueprint": {"path": "vigil/notify.yaml", "input": {
                "notify_devices": [device_id], "min_level": "low", "cooldown": 0,
                "arm_modes": ["disarmed", "home", "away", "night", "vacation"]}}}]})
        deadline = time.monotonic() + (120 if quick else 400)
        first_call: dict[str, float] = {}
        while time.monotonic() < deadline:
            for at, call in calls:
                first_call.setdefault(call["data"]["tag"], at)
            if len([e for e in first_call if e in opened]) >= wanted:
                break
            await asyncio.sleep(0.5)
        await hass.config_entries.async_unload(entry.entry_id)
        await hass.async_block_till_done()
    finally:
        engine.stop()

    measured = [e for e in first_call if e in opened]
    assert measured, "no event was notified"
    from_open = [first_call[e] - opened[e][0] for e in measured]
    from_frame = [first_call[e] - opened[e][1] for e in measured]
    in_ha = [first_call[e] - opened[e][2] for e in measured]
    figures = [
        {"name": "notify_p50_s", "label": "Event open -> notify call, p50",
         "value": round(statistics.median(from_open), 3), "unit": "s", "target": "-",
         "met": None, "note": ""},
        {"name": "notify_p95_s", "label": "Event open -> notify call (fast path), p95",
         "value": round(p95(from_open), 3), "unit": "s", "target": f"<= {TARGET_S} s",
         "met": p95(from_open) <= TARGET_S,
         "note": f"{len(measured)} events, blueprint + prepare_notification + signed image"},
        {"name": "notify_in_ha_p95_s", "label": "HA hears of the event -> notify call, p95",
         "value": round(p95(in_ha), 3), "unit": "s", "target": "-", "met": None,
         "note": "the blueprint's share of the path"},
        {"name": "notify_from_first_frame_p95_s",
         "label": "First frame of the object -> notify call, p95",
         "value": round(p95(from_frame), 3), "unit": "s", "target": "-", "met": None,
         "note": "includes the tracker's confirmation frames before an event opens"},
    ]
    report(figures, quick)


def report(figures: list[dict[str, Any]], quick: bool) -> None:
    """Print the figures like the other benchmarks; write JSON when asked."""
    print("\nNotification results:\n")
    for f in figures:
        met = {True: "yes", False: "NO", None: "-"}[f["met"]]
        print(f"  {f['label']}: {f['value']:.3f} {f['unit']}  (target {f['target']}, met {met})"
              + (f"  [{f['note']}]" if f["note"] else ""))
    if out := os.environ.get("VIGIL_BENCH_JSON"):
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps({"context": {"quick": quick}, "figures": figures},
                                        indent=2) + "\n")
