"""The OpenAI-compatible provider against a real llama.cpp server, plus outages,
malformed answers, budgets and restarts. Real SQLite throughout."""

from __future__ import annotations

import asyncio
import re
import secrets
import signal
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import EngineProcess, free_port
from tests.support.llm import LlamaServer
from vigil_engine.config import ACTIVITY_TYPES, parse_config
from vigil_engine.events.bus import EventBus
from vigil_engine.risk.model import level_for
from vigil_engine.risk.prompt import PROMPT_VERSION
from vigil_engine.risk.service import RiskService
from vigil_engine.store.db import Store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

FRAME = [[0, 0], [640, 0], [640, 360], [0, 360]]


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    server = LlamaServer(tmp_path_factory.mktemp("llama") / "server.log").start()
    yield server
    server.stop()


def risk_config(tmp: Path, base_url: str, **risk: Any) -> Any:
    return parse_config({
        "data_dir": str(tmp),
        "location": {"timezone": "UTC"},
        "risk": {"provider": "openai", "openai": {"base_url": base_url, "model": "smollm2",
                                                  "timeout": 60, **risk.pop("openai", {})},
                 "retry": {"seconds": 0.5, "max_attempts": 50},
                 "circuit": {"failures": 2, "cooldown": 1}, **risk},
        "cameras": {"back_door": {"inputs": [{"url": "rtsp://127.0.0.1:1/x"}],
                                  "description": "back door, faces the garden",
                                  "zones": {"porch": {"coordinates": FRAME,
                                                      "sensitivity": "high"}}}},
    })


def closed_event(start: float) -> dict[str, Any]:
    return {"id": f"{int(start * 1000)}-{secrets.token_hex(3)}", "camera": "back_door",
            "start_time": start, "end_time": start + 40, "labels": ["person"],
            "zones": ["porch"],
            "objects": [{"id": secrets.token_hex(4), "label": "person", "top_score": 0.9,
                         "zones": ["porch"], "first_seen": start, "last_seen": start + 40,
                         "stationary": False, "loitering": True,
                         "path": [[start, 300, 100], [start + 40, 310, 300]]}]}


class Rig:
    def __init__(self, tmp: Path, config: Any) -> None:
        self.db = tmp / "vigil.db"
        self.store = Store(self.db)
        self.bus = EventBus()
        self.updates = self.bus.subscribe(1000)
        self.service = RiskService(config, self.store, self.bus)
        self.camera = config.cameras["back_door"]

    async def add(self, start: float) -> str:
        ev = closed_event(start)
        risk, alert, reason = await self.service.fast(self.camera, ev)
        # As the event manager does: the closing row queues its scoring job.
        await self.store.upsert_event({**ev, "risk": risk, "alert": alert,
                                       "alert_reason": reason},
                                      also=self.service.closing_job(ev["id"]))
        await self.service.event_closed(ev["id"])
        return str(ev["id"])

    async def risk(self, eid: str) -> dict[str, Any]:
        ev = await self.store.get_event(eid)
        assert ev is not None
        return ev["risk"]

    async def wait(self, eid: str, pred: Any, within: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            risk = await self.risk(eid)
            if pred(risk):
                return risk
            await asyncio.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}; last risk: {await self.risk(eid)}")

    def jobs(self) -> dict[str, str]:
        with sqlite3.connect(self.db) as c:
            return dict(c.execute("SELECT event_id, status FROM risk_jobs").fetchall())


@pytest.fixture
async def rig_factory(tmp_path: Path) -> AsyncIterator[Any]:
    rigs: list[Rig] = []

    async def make(base_url: str, **risk: Any) -> Rig:
        rig = Rig(tmp_path, risk_config(tmp_path, base_url, **risk))
        await rig.service.start()
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        await rig.service.stop()
        await asyncio.to_thread(rig.store.close)


def is_llm_final(risk: dict[str, Any]) -> bool:
    return risk["status"] == "final" and risk["provider"] == "openai"


async def test_llm_assessment_is_schema_valid_and_audited(llama: LlamaServer,
                                                          rig_factory: Any) -> None:
    rig = await rig_factory(llama.base_url)
    eid = await rig.add(time.time() - 120)
    first = await rig.risk(eid)
    assert first["status"] == "pending" and first["provider"] == "rules"  # alert first
    risk = await rig.wait(eid, is_llm_final, 120, "the LLM assessment")
    assert 0 <= risk["risk_score"] <= 100 and risk["risk_level"] == level_for(risk["risk_score"])
    assert risk["activity_type"] in ACTIVITY_TYPES
    assert risk["summary"] and risk["reasoning"]
    assert risk["model"] and risk["latency_ms"] > 0
    assert risk["prompt_version"] == PROMPT_VERSION
    assert risk["tokens"]["prompt"] > 100 and risk["tokens"]["completion"] > 5
    assert risk["entities"][0]["label"] == "person"
    with sqlite3.connect(rig.db) as c:
        audit = c.execute("SELECT provider, prompt_version, prompt, raw, error FROM risk_audit "
                          "WHERE event_id = ?", (eid,)).fetchall()
        calls = c.execute("SELECT calls FROM llm_usage").fetchone()[0]
    assert audit and audit[-1][0] == "openai" and audit[-1][1] == PROMPT_VERSION
    assert "back door, faces the garden" in audit[-1][2] and audit[-1][3] and not audit[-1][4]
    assert calls == len(audit)
    assert rig.jobs() == {eid: "done"}


async def test_server_outage_falls_back_at_once_and_rescores_later(
        tmp_path: Path, rig_factory: Any) -> None:
    server = LlamaServer(tmp_path / "outage.log").start()
    try:
        rig = await rig_factory(server.base_url)
        warm = await rig.add(time.time() - 300)
        await rig.wait(warm, is_llm_final, 120, "a first LLM answer")
        server.stop()  # kill -9 mid-run
        ids = [await rig.add(time.time() - 200 + i) for i in range(3)]
        started = time.monotonic()
        for eid in ids:
            fallback = await rig.wait(eid, lambda r: r["status"] == "fallback", 15,
                                      "a rules fallback")
            assert fallback["provider"] == "rules" and "LLM unavailable" in fallback["reasoning"]
        assert time.monotonic() - started < 15
        assert rig.service.circuit.state in ("open", "half_open")
        jobs = rig.jobs()
        assert all(jobs[eid] in ("pending", "running") for eid in ids)  # none lost or dead
        server.start()
        for eid in ids:
            await rig.wait(eid, is_llm_final, 180, "a rescore after the outage")
        assert set(rig.jobs().values()) == {"done"}
    finally:
        server.stop()


async def test_events_fall_back_at_once_while_a_probe_hangs(rig_factory: Any) -> None:
    """An LLM server that stops answering: after the circuit opens, a probe waits its whole
    timeout. Events closed meanwhile show the rules' score as a fallback at once, not
    'pending' for a minute."""
    hang = asyncio.Event()
    probed = asyncio.Event()
    held: list[asyncio.StreamWriter] = []

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if hang.is_set():
            held.append(writer)  # take the request, never answer
            probed.set()
            return
        writer.close()  # a server that drops the connection: a fast failure

    server = await asyncio.start_server(peer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        rig = await rig_factory(f"http://127.0.0.1:{port}/v1")
        first = [await rig.add(time.time() - 300 + i) for i in range(2)]
        for eid in first:
            await rig.wait(eid, lambda r: r["status"] == "fallback", 15, "a rules fallback")
        hang.set()
        await asyncio.wait_for(probed.wait(), 15)  # the probe after the cool-down
        assert rig.service.circuit.state == "half_open"
        eid = await rig.add(time.time() - 100)
        risk = await rig.wait(eid, lambda r: r["status"] == "fallback", 3, "a fallback at once")
        assert risk["provider"] == "rules" and "LLM unavailable" in risk["reasoning"]
        assert rig.jobs()[eid] == "pending"  # still rescored when the server is back
    finally:
        for writer in held:
            writer.close()
        server.close()


async def test_malformed_answer_ends_in_a_valid_fallback(llama: LlamaServer,
                                                         rig_factory: Any) -> None:
    # Three tokens cannot hold the JSON: the answer is cut off, retried once, then rules.
    rig = await rig_factory(llama.base_url, openai={"max_tokens": 3})
    eid = await rig.add(time.time() - 60)
    risk = await rig.wait(eid, lambda r: r["status"] == "fallback", 90, "a fallback")
    assert "LLM answer invalid twice" in risk["reasoning"]
    # A valid rules assessment: loitering in a high-sensitivity zone is at least medium.
    assert risk["risk_level"] == level_for(risk["risk_score"]) != "low"
    with sqlite3.connect(rig.db) as c:
        errors = [r[0] for r in c.execute("SELECT error FROM risk_audit WHERE event_id = ?",
                                          (eid,))]
    assert len(errors) == 2 and all(errors)
    assert rig.jobs() == {eid: "done"}


async def test_spent_budget_switches_to_rules(llama: LlamaServer, rig_factory: Any) -> None:
    rig = await rig_factory(llama.base_url, budget={"calls_per_day": 1})
    first = await rig.add(time.time() - 100)
    await rig.wait(first, is_llm_final, 120, "the one budgeted LLM call")
    second = await rig.add(time.time() - 50)
    risk = await rig.wait(second, lambda r: r["status"] == "fallback", 30, "a budget fallback")
    assert "budget spent" in risk["reasoning"] and risk["provider"] == "rules"
    with sqlite3.connect(rig.db) as c:
        assert c.execute("SELECT calls FROM llm_usage").fetchone()[0] == 1
    status = await rig.service.status()
    assert status["budget"]["calls"] == 1 and status["stats"]["budget_fallbacks"] == 1


def test_pending_jobs_resume_after_an_engine_restart(tmp_path: Path, footage_mp4: Path) -> None:
    port = free_port()
    config = {
        "location": {"timezone": "UTC"},
        "risk": {"provider": "openai",
                 "openai": {"base_url": f"http://127.0.0.1:{port}/v1", "model": "smollm2"},
                 "retry": {"seconds": 1, "max_attempts": 50},
                 "circuit": {"failures": 2, "cooldown": 1}},
        "cameras": {"plaza": {
            "inputs": [{"url": str(footage_mp4), "roles": ["detect"], "loop": True}],
            "detect": {"fps": 5, "width": 768, "height": 576},
            "events": {"idle_timeout": 3, "max_length": 8}}},
    }
    engine = EngineProcess(tmp_path / "engine", config).start()
    db = engine.data_dir / "vigil.db"

    def jobs() -> dict[str, str]:
        with sqlite3.connect(db) as c:
            return dict(c.execute("SELECT event_id, status FROM risk_jobs").fetchall())

    # No LLM yet: closed events carry rules fallbacks and their jobs wait. The job row is
    # written with the closing row, the fallback a moment later, so wait for both.
    def closed_with_fallbacks() -> list[str]:
        events = {e["id"]: e for e in engine.all_events()}
        closed = [eid for eid in jobs() if events.get(eid, {}).get("end_time")]
        ok = len(closed) >= 2 and all(events[eid]["risk"]["status"] == "fallback"
                                      for eid in closed)
        return closed if ok else []

    waiting = engine.wait_for(closed_with_fallbacks, 90,
                              what="two closed events scored by rules while the LLM is down")
    assert engine.stop(signal.SIGTERM) == 0
    assert all(status == "pending" for status in jobs().values())
    with LlamaServer(tmp_path / "llama.log", port=port):
        engine.start()
        for eid in waiting:
            engine.wait_for(lambda eid=eid: is_llm_final(engine.json(f"/api/events/{eid}")["risk"]),
                            180, what=f"event {eid} rescored after the restart")
        risk_status = engine.json("/api/risk")
        assert risk_status["provider"] == "openai" and risk_status["jobs"].get("dead", 0) == 0
        engine.stop(signal.SIGTERM)


def test_eval_risk_runs_scenarios_through_an_llm(llama: LlamaServer) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, str(root / "scripts" / "eval_risk.py"), "--provider", "openai",
         "--base-url", llama.base_url, "--model", "smollm2", "--no-fail"],
        capture_output=True, text=True, timeout=540, check=False,  # 13 homes' scenarios
        env={"PYTHONPATH": f"{root}/addon:{root}", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "provider: openai (smollm2)"
    rows = [ln for ln in lines if re.search(r"\s(yes|NO)(\s|$)", ln)]
    assert len(rows) == 13
    assert [ln.split(":")[0] for ln in lines if ln.startswith("group ")] == [
        "group london", "group san_francisco", "group auckland"]
    # Every row has a level from the model (the tiny model's judgement is not graded here).
    assert sum(any(f" {lv} " in r for lv in ("low", "medium", "high", "critical"))
               for r in rows) >= 6
    assert lines[-1].startswith("agreement: ") and "/13" in lines[-1]
