"""REST API contract: auth on everything, clear 4xx errors, exact cursor paging.

The engine runs from its CLI on a real SQLite file seeded with events; its one
camera points at an RTSP address where nothing listens (so it stays offline).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import EngineProcess, free_port
from vigil_engine.store.db import Store

BASE_TIME = 1_790_000_000.0
TOKEN = "test-token-0123456789abcdef"


def make_event(i: int, camera: str, labels: list[str], *, open_: bool = False) -> dict[str, Any]:
    start = BASE_TIME + i * 60
    return {
        "id": f"{int(start * 1000)}-{i:06x}",
        "camera": camera,
        "start_time": start,
        "end_time": None if open_ else start + 20,
        "labels": labels,
        "zones": ["porch"] if i % 3 == 0 else [],
        "objects": [{"id": f"{i:08x}", "label": labels[0], "top_score": 0.9, "zones": [],
                     "first_seen": start, "last_seen": start + 20, "stationary": False,
                     "loitering": False}],
        "top_score": 0.9,
        "has_snapshot": False,
    }


SEEDED = [make_event(i, "front" if i % 2 else "back", ["person"] if i % 4 else ["car", "person"])
          for i in range(57)]
DANGLING = make_event(100, "front", ["dog"], open_=True)


def seed(db_path: Path, events: list[dict[str, Any]]) -> None:
    async def run() -> None:
        store = Store(db_path)
        try:
            for ev in events:
                await store.upsert_event(ev)
        finally:
            await asyncio.to_thread(store.close)

    asyncio.run(run())


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    tmp = tmp_path_factory.mktemp("api")
    seed(tmp / "data" / "vigil.db", [*SEEDED, DANGLING])
    dead = f"rtsp://127.0.0.1:{free_port()}/nothing"
    config = {
        "api": {"token": TOKEN, "failed_auth_limit": 100000},
        # The seeded history is older than the default 30 days events are kept.
        "cameras": {
            name: {"inputs": [{"url": dead}],
                   "record": {"events": {"retain": {"days": 36500}}}}
            for name in ("front", "back")
        },
    }
    eng = EngineProcess(tmp, config).start()
    yield eng
    eng.stop()


ROUTES = ["/api/health", "/api/cameras", "/api/cameras/front", "/api/cameras/front/latest.jpg",
          "/api/events", f"/api/events/{SEEDED[0]['id']}",
          f"/api/events/{SEEDED[0]['id']}/snapshot.jpg", "/metrics", "/api/no-such-route",
          "/api/cameras/front/timeline", "/api/cameras/front/vod.m3u8?start=1",
          "/api/cameras/front/vod/1.ts?base=1", "/api/cameras/front/preview.jpg?time=1"]


@pytest.mark.parametrize("path", ROUTES)
@pytest.mark.parametrize("auth", [None, "Bearer wrong-token-000000000000", f"Basic {TOKEN}",
                                  "Bearer", f"Bearer {TOKEN}x"])
def test_every_route_needs_the_token(engine: EngineProcess, path: str, auth: str | None) -> None:
    headers = {"Authorization": auth} if auth else {}
    resp = engine.request(path, token="", headers=headers)
    assert resp.status == 401
    assert resp.json()["error"]["code"] == "unauthorized"


def test_health_and_cameras(engine: EngineProcess) -> None:
    health = engine.json("/api/health")
    assert health["status"] == "ok" and health["version"]
    assert len(health["instance_id"]) == 36
    assert health["cameras"] == {"front": "offline", "back": "offline"}
    assert health["events"] == len(SEEDED) + 1
    cams = {c["name"]: c for c in engine.json("/api/cameras")["cameras"]}
    assert set(cams) == {"front", "back"}
    assert cams["front"]["status"] == "offline"
    assert cams["front"]["error"]  # says why (connection refused)
    assert "vigil_up 1" in engine.get("/metrics").body.decode()


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("/api/events/1790000000000-ffffff", "unknown_event"),
        ("/api/events/not-an-id", "unknown_event"),
        ("/api/events/..%2F..%2Ftoken", "unknown_event"),
        ("/api/events/1790000000000-ffffff/snapshot.jpg", "unknown_event"),
        ("/api/cameras/garage", "unknown_camera"),
        ("/api/cameras/garage/latest.jpg", "unknown_camera"),
        ("/api/cameras/..%2Ftoken/latest.jpg", "unknown_camera"),
        ("/api/cameras/front/latest.jpg", "no_frame"),
        (f"/api/events/{SEEDED[0]['id']}/snapshot.jpg", "no_snapshot"),
        (f"/api/events/{SEEDED[0]['id']}/snapshot.jpg?object=..%2F..%2Ftoken", "unknown_object"),
    ],
)
def test_unknown_things_are_404_with_a_json_reason(engine: EngineProcess, path: str,
                                                   code: str) -> None:
    resp = engine.get(path)
    assert resp.status == 404, resp.body
    assert resp.json()["error"]["code"] == code
    assert TOKEN.encode() not in resp.body


def test_raw_dot_dot_paths_never_reach_the_data_dir(engine: EngineProcess) -> None:
    for path in ("/api/events/../../token", "/api/../data/token", "/api/events/%2e%2e/token"):
        resp = engine.get(path)
        assert resp.status == 404
        assert TOKEN.encode() not in resp.body


@pytest.mark.parametrize(
    ("query", "field"),
    [("limit=0", "limit"), ("limit=abc", "limit"), ("limit=100000", "limit"),
     ("since=yesterday", "since"), ("until=soon", "until"), ("cursor=%%%garbage", "cursor"),
     ("colour=red", "colour")],
)
def test_bad_query_parameters_name_the_field(engine: EngineProcess, query: str,
                                             field: str) -> None:
    resp = engine.get(f"/api/events?{query}")
    assert resp.status == 400
    err = resp.json()["error"]
    assert err["code"] == "invalid_parameter" and err["message"].startswith(field)


def test_paging_returns_every_event_exactly_once(engine: EngineProcess) -> None:
    events = engine.all_events(limit=10)
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids)) == len(SEEDED) + 1
    starts = [e["start_time"] for e in events]
    assert starts == sorted(starts, reverse=True)
    assert set(ids) == {e["id"] for e in [*SEEDED, DANGLING]}


def test_paging_is_stable_while_new_events_arrive(engine: EngineProcess) -> None:
    first = engine.json("/api/events?limit=7")
    # New events land in the real database between pages (newer ones first in order).
    newer = [make_event(200 + i, "front", ["person"]) for i in range(5)]
    seed(engine.data_dir / "vigil.db", newer)
    seen = [e["id"] for e in first["events"]]
    cursor = first["next_cursor"]
    while cursor:
        page = engine.json(f"/api/events?limit=7&cursor={cursor}")
        seen += [e["id"] for e in page["events"]]
        cursor = page["next_cursor"]
    assert len(seen) == len(set(seen)) == len(SEEDED) + 1  # the walk that began sees no newcomer
    assert len(engine.all_events()) == len(SEEDED) + 1 + len(newer)


def test_filters(engine: EngineProcess) -> None:
    front = engine.all_events("camera=front")
    assert front and all(e["camera"] == "front" for e in front)
    cars = engine.all_events("label=car")
    assert cars and all("car" in e["labels"] for e in cars)
    assert len(cars) == sum("car" in e["labels"] for e in SEEDED)
    since, until = BASE_TIME + 10 * 60, BASE_TIME + 19 * 60
    window = engine.all_events(f"since={since}&until={until}")
    assert sorted(e["id"] for e in window) == sorted(e["id"] for e in SEEDED[10:20])


def test_event_shape_and_dangling_event_closed_at_start(engine: EngineProcess) -> None:
    ev = engine.json(f"/api/events/{DANGLING['id']}")
    assert ev["end_time"] is not None and ev["end_time"] >= ev["start_time"]
    for key in ("id", "camera", "start_time", "end_time", "labels", "zones", "objects",
                "has_snapshot", "has_clip", "risk", "alert", "acknowledged", "protected"):
        assert key in ev
    assert ev["labels"] == ["dog"] and ev["risk"] is None and ev["acknowledged"] is False


def test_schema_is_versioned(engine: EngineProcess) -> None:
    with sqlite3.connect(engine.data_dir / "vigil.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] >= 1
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
