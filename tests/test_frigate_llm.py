"""Frigate events scored by a real LLM (llama.cpp): one call per event, at ``end`` with the
snapshot downloaded, the answer written back into Frigate; dismissed events cost nothing."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import EngineProcess
from tests.support.frigate import FrigatePeer, tracked_object
from tests.support.llm import LlamaServer
from tests.support.mosquitto import Mosquitto

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory, footage_mp4: Path
          ) -> Iterator[tuple[EngineProcess, FrigatePeer]]:
    tmp = tmp_path_factory.mktemp("frigate-llm")
    with LlamaServer(tmp / "llama.log") as llama, Mosquitto(tmp / "mqtt") as broker:
        peer = FrigatePeer(footage_mp4, broker.port).start()
        eng = EngineProcess(tmp / "engine", {
            "frigate": [{"name": "home", "frigate_url": peer.url, "mqtt_host": "127.0.0.1",
                         "mqtt_port": broker.port}],
            "mqtt": {"enabled": False},
            "risk": {"provider": "openai", "openai": {"base_url": llama.base_url,
                                                      "model": "smollm2", "timeout": 60}},
        })
        try:
            eng.start()
            eng.wait_for(lambda: eng.json("/api/health")["frigate"]["home"]["mqtt_connected"],
                         20, what="listener")
            yield eng, peer
        finally:
            eng.stop()
            peer.stop()


def llm_requests(eng: EngineProcess, event_id: str | None = None) -> int:
    """Requests sent to the LLM (every one is audited), for one event or all."""
    sql = "SELECT COUNT(*) FROM risk_audit"
    args: tuple[str, ...] = ()
    if event_id is not None:
        sql = "SELECT COUNT(*) FROM risk_audit WHERE event_id = ?"
        args = (event_id,)
    with sqlite3.connect(eng.data_dir / "vigil.db") as c:
        return int(c.execute(sql, args).fetchone()[0])


def event_for(eng: EngineProcess, fid: str, pred: Any, timeout: float = 120) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        for e in eng.all_events():
            if (e.get("frigate") or {}).get("event_id") == fid and pred(e):
                return e
        return None

    return eng.wait_for(find, timeout, interval=0.5, what=f"event {fid}")


def test_one_llm_call_per_frigate_event_written_back(
        setup: tuple[EngineProcess, FrigatePeer]) -> None:
    eng, peer = setup
    obj = tracked_object("front_door", entered_zones=["porch"])
    peer.event("new", obj)
    opened = event_for(eng, obj["id"], lambda e: True, 20)
    assert opened["risk"]["provider"] == "rules" and opened["risk"]["status"] == "pending", \
        "alert first: the rules answer at once, the LLM at the end"
    peer.event("update", obj, score=0.95)
    peer.event("end", obj)
    peer.event("end", obj)  # Frigate repeating itself costs no second call
    # The LLM's answer (or, if the tiny model broke the schema twice, the fallback).
    ev = event_for(eng, obj["id"], lambda e: (e["risk"] or {}).get("provider") == "openai"
                   or (e["risk"] or {}).get("status") == "fallback")
    assert ev["has_snapshot"]
    desc = eng.wait_for(lambda: peer.descriptions.get(obj["id"]), 20, interval=0.3,
                        what="write-back of the assessment")
    assert ev["risk"]["summary"] in desc[-1]
    time.sleep(2)
    # One scoring job: one request (a second only when the first answer broke the schema).
    asked = llm_requests(eng, ev["id"])
    assert asked == 1 or (asked == 2 and ev["risk"]["status"] == "fallback"), asked
    total = llm_requests(eng)

    # A dismissed event (too short) is closed without asking the LLM.
    short = tracked_object("front_door")
    peer.event("new", short)
    peer.event("end", short, end_time=short["start_time"] + 0.3)
    dismissed = event_for(eng, short["id"], lambda e: e["end_time"] is not None, 20)
    assert dismissed["dismissed"].startswith("too_short")
    time.sleep(3)
    assert llm_requests(eng) == total, "a dismissed event is not sent to the LLM"
    assert llm_requests(eng, dismissed["id"]) == 0
    with sqlite3.connect(eng.data_dir / "vigil.db") as c:
        jobs = c.execute("SELECT event_id, status, last_error FROM risk_jobs").fetchall()
    # The scored event's job is finished (or, on a machine too loaded for the LLM's
    # timeout, waiting to retry); the dismissed event never had one.
    assert all(row[0] != dismissed["id"] for row in jobs), jobs
    assert all(row[1] != "pending" or row[2] for row in jobs), jobs
