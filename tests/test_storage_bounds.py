"""Storage stays bounded: expired footage behind thousands of kept rows, events with their
snapshots, audit rows and jobs expire, the database gives space back, and everything
under the data folder is counted. The engine runs from its CLI on a prepared data folder."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import EngineProcess, free_port
from vigil_engine.record.segments import segment_relpath
from vigil_engine.store.db import Store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

DAY = 86400.0
KEPT = 6000
EXPIRING = 100


def event_id(t: float, suffix: str) -> str:
    return f"{int(t * 1000)}-{suffix}"


def insert_event(c: sqlite3.Connection, eid: str, start: float, end: float, *,
                 level: str | None = None, protected: bool = False) -> None:
    risk = json.dumps({"risk_level": level, "risk_score": 50, "provider": "rules"}) \
        if level else None
    c.execute("INSERT INTO events (id, camera, start_time, end_time, labels, risk, protected, "
              "has_snapshot, updated_at) VALUES (?, 'yard', ?, ?, '[\"person\"]', ?, ?, 1, ?)",
              (eid, start, end, risk, int(protected), end))


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory, footage_mp4: Path) -> Iterator[
        tuple[EngineProcess, dict[str, Any]]]:
    tmp = tmp_path_factory.mktemp("bounds")
    data = tmp / "data"
    seg = tmp / "seg.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(footage_mp4), "-t", "1",
                    "-c", "copy", str(seg)], check=True)
    Store(data / "vigil.db").close()  # the engine's own schema
    now = time.time()
    root = data / "recordings"
    rows = []
    kept_start = now - 10 * DAY
    for i in range(KEPT):  # event footage, kept 30 days: older than the expiring footage
        rows.append((kept_start + i * 4, False))
    exp_start = now - 3 * DAY
    for i in range(EXPIRING):  # continuous footage, kept 1 day: expired
        rows.append((exp_start + i * 4, True))
    size = seg.stat().st_size
    records = []
    for start, _ in rows:
        rel = segment_relpath("yard", start)
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        os.link(seg, path)  # hard links: 6,100 real files, one file's worth of disk
        records.append(("yard", rel, start, start + 4, size))
    ids = {"cover": event_id(kept_start, "c0c0c0"),
           "old_low": event_id(now - 40 * DAY, "a1a1a1"),
           "old_protected": event_id(now - 40 * DAY + 5, "b2b2b2"),
           "old_critical": event_id(now - 40 * DAY + 9, "d3d3d3")}
    snaps = data / "snapshots" / "yard"
    (snaps / ids["old_low"]).mkdir(parents=True)
    for name in (f"{ids['old_low']}.jpg", f"{ids['old_low']}-bbox.jpg",
                 f"{ids['old_low']}/0000abcd.jpg", f"{ids['old_protected']}.jpg"):
        (snaps / name).write_bytes(b"\xff\xd8" + os.urandom(20_000))
    prompt = "x" * 2000
    with sqlite3.connect(data / "vigil.db") as c:
        c.executemany("INSERT INTO recordings (camera, path, start_time, end_time, size) "
                      "VALUES (?, ?, ?, ?, ?)", records)
        insert_event(c, ids["cover"], kept_start, kept_start + KEPT * 4, level="low")
        insert_event(c, ids["old_low"], now - 40 * DAY, now - 40 * DAY + 4, level="low")
        insert_event(c, ids["old_protected"], now - 40 * DAY + 5, now - 40 * DAY + 8,
                     level="low", protected=True)
        insert_event(c, ids["old_critical"], now - 40 * DAY + 9, now - 40 * DAY + 12,
                     level="critical")
        # Full prompts of the expired event's assessments: megabytes the DB must give back.
        c.executemany(
            "INSERT INTO risk_audit (event_id, created_at, provider, model, prompt_version, "
            "prompt) VALUES (?, ?, 'openai', 'm', 'v1', ?)",
            [(ids["old_low"], now - 40 * DAY, prompt + str(i)) for i in range(2500)])
        c.execute("INSERT INTO risk_audit (event_id, created_at, provider, model, "
                  "prompt_version, prompt) VALUES ('1700000000000-000000', ?, 'openai', 'm', "
                  "'v1', 'analyze now')", (now - 10 * DAY,))
        for eid, status, age in ((ids["old_low"], "done", 40), (ids["cover"], "done", 10),
                                 (ids["old_critical"], "dead", 1)):
            c.execute("INSERT INTO risk_jobs (event_id, kind, status, next_attempt, created_at, "
                      "updated_at) VALUES (?, 'llm', ?, 0, ?, ?)",
                      (eid, status, now - age * DAY, now - age * DAY))
    db_before = (data / "vigil.db").stat().st_size
    config = {
        "storage": {"check_seconds": 2},
        "cameras": {"yard": {
            "inputs": [{"url": f"rtsp://127.0.0.1:{free_port()}/x", "roles": ["detect", "record"]}],
            "record": {"enabled": True, "retain": {"days": 1},
                       "events": {"retain": {"days": 30, "risk": {"critical": 90}}}},
        }},
    }
    eng = EngineProcess(tmp, config).start(timeout=60)
    yield eng, {"ids": ids, "db_before": db_before, "snaps": snaps, "root": root,
                "expiring": {r[1] for r, (_, exp) in zip(records, rows, strict=True) if exp}}
    eng.stop()


def counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as c:
        return {t: c.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("recordings", "events", "risk_audit", "risk_jobs")}


def test_expired_footage_behind_6000_kept_rows_is_deleted(
        prepared: tuple[EngineProcess, dict[str, Any]]) -> None:
    eng, info = prepared
    db = eng.data_dir / "vigil.db"
    eng.wait_for(lambda: counts(db)["recordings"] == KEPT, 60,
                 what="the expired footage behind the kept rows to go")
    files = {p.relative_to(info["root"]).as_posix() for p in info["root"].rglob("*.mp4")}
    assert len(files) == KEPT
    assert not files & info["expiring"]  # files went with their rows


def test_events_audit_rows_and_jobs_expire_and_the_database_shrinks(
        prepared: tuple[EngineProcess, dict[str, Any]]) -> None:
    eng, info = prepared
    ids = info["ids"]
    db = eng.data_dir / "vigil.db"
    eng.wait_for(lambda: eng.get(f"/api/events/{ids['old_low']}").status == 404, 60,
                 what="the expired event to go")
    assert "events" in eng.json("/api/stats")["storage"]["last_purge"]
    for kept in ("cover", "old_protected", "old_critical"):
        assert eng.get(f"/api/events/{ids[kept]}").status == 200, kept
    snaps = info["snaps"]
    assert not list(snaps.glob(f"{ids['old_low']}*"))  # snapshots and object folder gone
    assert (snaps / f"{ids['old_protected']}.jpg").is_file()
    eng.wait_for(lambda: counts(db)["risk_audit"] == 0 and counts(db)["risk_jobs"] == 1, 30,
                 what="audit rows and finished jobs to go")
    with sqlite3.connect(db) as c:
        assert c.execute("SELECT event_id FROM risk_jobs").fetchone()[0] == ids["old_critical"]
        assert c.execute("PRAGMA auto_vacuum").fetchone()[0] == 2  # incremental
    # The freed pages went back to the disk (2,500 prompts of 2 kB).
    eng.stop()
    assert db.stat().st_size < info["db_before"] - 3_000_000
    eng.start(timeout=60)


def test_everything_under_the_data_folder_counts(
        prepared: tuple[EngineProcess, dict[str, Any]]) -> None:
    eng, info = prepared
    storage = eng.json("/api/stats")["storage"]
    footage = sum(c["bytes"] for c in storage["cameras"].values())
    db = sum(p.stat().st_size for p in eng.data_dir.glob("vigil.db*"))
    snaps = sum(p.stat().st_size for p in info["snaps"].rglob("*") if p.is_file())
    assert snaps > 0
    # Footage as indexed (hard links count once per row, as a camera's files would).
    assert storage["used_bytes"] >= footage + snaps + db * 0.5


def test_event_writes_are_durable(tmp_path: Path) -> None:
    """synchronous=FULL on the connection that writes events (power-cut safe)."""
    store = Store(tmp_path / "vigil.db")
    try:
        assert store._writer.submit(
            lambda: store._writer_conn.execute("PRAGMA synchronous").fetchone()[0]
        ).result() == 2
        assert store.read_sync(lambda c: c.execute("PRAGMA synchronous").fetchone()[0]) == 2
    finally:
        store.close()
