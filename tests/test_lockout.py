"""The owner is never locked out: a bad-token flood from Home Assistant's own address,
idle sockets that never authenticate, hostile cookies and tokens. Engine from its CLI."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.support.engine import EngineProcess, free_port
from tests.support.wsclient import RawWs, WsClient
from tests.test_hardening import raw  # byte-exact requests (non-ASCII headers)
from vigil_engine.store.db import Store

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    # A camera that never connects keeps the engine light: these tests are about the API.
    config = {"api": {"failed_auth_limit": 12},
              "cameras": {"gate": {"inputs": [
                  {"url": f"rtsp://127.0.0.1:{free_port()}/x", "roles": ["detect"]}]}}}
    tmp = tmp_path_factory.mktemp("lockout")
    seed_big_events(tmp / "data" / "vigil.db")
    eng = EngineProcess(tmp, config).start()
    yield eng
    eng.stop()


def seed_big_events(db: Path) -> None:
    """400 recent events with many objects: one events/list answer is about 1 MB."""
    Store(db).close()  # the engine's own schema
    now = time.time() - 3600
    objects = json.dumps([{"id": f"{i:08x}", "label": "person", "top_score": 0.9,
                           "path": [[x, x] for x in range(20)]} for i in range(8)])
    with sqlite3.connect(db) as c:
        c.executemany(
            "INSERT INTO events (id, camera, start_time, end_time, labels, objects, updated_at) "
            "VALUES (?, 'gate', ?, ?, '[\"person\"]', ?, ?)",
            [(f"{int((now + i) * 1000)}-{i:06x}", now + i, now + i + 1, objects, now + i)
             for i in range(400)])


def login(engine: EngineProcess, token: str) -> tuple[int, str]:
    status, _, headers = raw(engine, "/api/login", {"Content-Type": "application/json"},
                             method="POST", body=json.dumps({"token": token}).encode())
    return status, headers.get("Set-Cookie", "")


def test_non_ascii_tokens_and_cookies_are_401_not_500(engine: EngineProcess) -> None:
    hostile: list[dict[str, Any]] = [
        {"Authorization": "Bearer tökén-ünïcode".encode()},
        {"Authorization": b"Bearer \xff\xfe\xfd"},
        {"Cookie": "vigil_session=sessión-ñ".encode()},
        {"Cookie": b"vigil_session=\xe9\xff\x80"},
        {"Authorization": "Bearer ✓✓✓".encode(), "Cookie": "vigil_session=✓".encode()},
    ]
    for headers in hostile:
        status, body, _ = raw(engine, "/api/cameras", headers)
        assert status == 401, (headers, status, body[:200])
        assert json.loads(body)["error"]["code"] == "unauthorized"
    status, _, _ = raw(engine, "/api/login", {"Content-Type": "application/json"},
                       method="POST", body=json.dumps({"token": "tökén ✓"}).encode())
    assert status == 401
    assert "Traceback" not in engine.log()
    assert engine.get("/api/health").status == 200


def test_sessions_expire_end_at_logout_and_need_the_engine_origin(engine: EngineProcess) -> None:
    status, set_cookie = login(engine, engine.token)
    assert status == 200
    assert "HttpOnly" in set_cookie and "SameSite=Strict" in set_cookie
    assert "Secure" not in set_cookie  # plain HTTP: a Secure cookie would never come back
    assert "Max-Age=" in set_cookie
    cookie = set_cookie.split(";")[0]
    assert engine.token not in cookie
    # Each login is its own random session, not a fixed function of the token.
    assert login(engine, engine.token)[1].split(";")[0] != cookie
    here = f"http://127.0.0.1:{engine.port}"
    assert raw(engine, "/api/events?limit=1", {"Cookie": cookie})[0] == 200

    # A change carried by the cookie alone must come from the engine's own pages.
    body = json.dumps({"mode": "away"}).encode()
    post = {"Cookie": cookie, "Content-Type": "application/json"}
    assert raw(engine, "/api/mode", {**post, "Origin": "http://evil.example"}, "POST",
               body)[0] == 403
    assert raw(engine, "/api/mode", post, "POST", body)[0] == 403  # no Origin at all
    assert raw(engine, "/api/mode", {**post, "Origin": here}, "POST", body)[0] == 200
    # A bearer token needs no Origin (Home Assistant is not a browser).
    assert engine.request("/api/mode", method="POST", data=json.dumps({"mode": "home"}).encode(),
                          headers={"Content-Type": "application/json"}).status == 200

    async def ws_with_cookie(origin: str) -> str:
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(engine.base.replace("http", "ws") + "/api/ws",
                                          headers={"Cookie": cookie, "Origin": origin})
            await ws.send_json({"type": "auth"})
            return str((await ws.receive_json(timeout=10))["type"])

    assert asyncio.run(ws_with_cookie(here)) == "auth_ok"
    assert asyncio.run(ws_with_cookie("http://evil.example")) == "auth_invalid"

    # Logout ends the session on the server: a copy of the cookie stops working.
    assert raw(engine, "/api/logout", {**post, "Origin": here}, "POST", b"{}")[0] == 200
    assert raw(engine, "/api/events?limit=1", {"Cookie": cookie})[0] == 401

    # Sessions outlive a restart, but not their expiry.
    cookie2 = login(engine, engine.token)[1].split(";")[0]
    engine.stop()
    engine.start()
    assert raw(engine, "/api/events?limit=1", {"Cookie": cookie2})[0] == 200
    engine.stop()
    path = engine.data_dir / "sessions.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    saved = json.loads(path.read_text())
    assert cookie2.split("=", 1)[1] not in path.read_text()  # only digests are stored
    saved["sessions"] = {k: time.time() - 1 for k in saved["sessions"]}
    path.write_text(json.dumps(saved))
    engine.start()
    assert raw(engine, "/api/events?limit=1", {"Cookie": cookie2})[0] == 401


def test_bad_token_flood_from_ha_address_never_locks_out_the_valid_token(
        engine: EngineProcess) -> None:
    def bad(i: int) -> int:
        return engine.get("/api/health", token=f"guess-{i:04d}-guess-guess").status

    with ThreadPoolExecutor(24) as pool:
        statuses = list(pool.map(bad, range(120)))
    assert set(statuses) <= {401, 429} and statuses.count(429) > 50  # the guesser is stopped
    assert engine.get("/api/health", token="still-guessing-guessing").status == 429

    # Home Assistant, at the very same address, is served at once.
    t0 = time.monotonic()
    assert engine.get("/api/health").status == 200
    assert engine.get("/api/cameras").status == 200
    assert time.monotonic() - t0 < 5  # no penalty delay for a valid token

    async def ws() -> dict[str, object]:
        client = WsClient(engine.base)
        try:
            return await client.connect(engine.token)
        finally:
            await client.close()

    assert asyncio.run(ws())["type"] == "auth_ok"
    status, cookie = login(engine, engine.token)
    assert status == 200 and cookie.startswith("vigil_session=")
    assert login(engine, "wrong-wrong-wrong-wrong")[0] == 429


def test_idle_unauthenticated_sockets_close_within_10_s(engine: EngineProcess) -> None:
    opened = time.monotonic()
    idle = [RawWs(engine.port) for _ in range(200)]
    pinging = RawWs(engine.port)  # pings do not buy more time
    # Below HTTP: sockets that never send a request, and some that trickle one (slowloris).
    silent = [socket.create_connection(("127.0.0.1", engine.port)) for _ in range(50)]
    trickling = [socket.create_connection(("127.0.0.1", engine.port)) for _ in range(10)]
    for sock in trickling:
        sock.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
    try:
        # Meanwhile the owner is served as usual.
        assert engine.get("/api/health").status == 200

        async def owner() -> tuple[str, int]:
            client = WsClient(engine.base)
            try:
                hello = await client.connect(engine.token)
                stats = await client.call("stats/get")
                return str(hello["type"]), stats["result"]["api"]["websocket_clients"]
            finally:
                await client.close()

        hello, clients = asyncio.run(owner())
        assert hello == "auth_ok"
        assert clients == 1  # unauthenticated sockets are not clients
        closed: set[int] = set()
        deadline = opened + 20  # 10 s, with room for a loaded machine
        while len(closed) < len(idle) + 1 and time.monotonic() < deadline:
            for i, sock in enumerate([*idle, pinging]):
                if i not in closed and sock.closed_by_peer(timeout=0.01):
                    closed.add(i)
            if len(idle) not in closed:
                with_ping(pinging)
            for sock in trickling:
                with contextlib.suppress(OSError):
                    sock.sendall(b"X-Slow: 1\r\n")
            time.sleep(0.5)
        took = time.monotonic() - opened
        assert len(closed) == len(idle) + 1, f"{len(idle) + 1 - len(closed)} still open"
        assert took >= 9.0  # they got their 10 s (this is no accidental early close)
        for sock in [*silent, *trickling]:
            assert peer_closed(sock), "a socket without a complete request is still open"
        assert engine.get("/api/health").status == 200
    finally:
        for ws in [*idle, pinging]:
            ws.close()
        for sock in [*silent, *trickling]:
            sock.close()


def peer_closed(sock: socket.socket) -> bool:
    sock.settimeout(2)
    try:
        while sock.recv(65536):
            pass
        return True
    except TimeoutError:
        return False
    except OSError:
        return True


def with_ping(sock: RawWs) -> None:
    """A masked WebSocket ping frame."""
    with contextlib.suppress(OSError):
        sock.sock.sendall(bytes([0x89, 0x80]) + b"\0\0\0\0")


def test_client_too_slow_for_large_answers_is_dropped_by_bytes(engine: EngineProcess) -> None:
    """Far fewer than the message limit, but megabytes waiting: the slow client goes (1008),
    while a client that reads gets the same large answers."""
    slow = RawWs(engine.port)

    async def read_the_same() -> int:
        reader = WsClient(engine.base)
        try:
            await reader.connect(engine.token)
            return len(json.dumps(await reader.call("events/list", limit=500)))
        finally:
            await reader.close()

    try:
        slow.send({"type": "auth", "token": engine.token})
        for i in range(1, 13):  # ~11 MB of answers, never read
            slow.send({"id": i, "type": "events/list", "limit": 500})
        size = asyncio.run(read_the_same())
        engine.wait_for(lambda: "too slow" in engine.log(), 30, what="the slow client's drop")
        time.sleep(3)  # the close handshake gets 2 s, then the connection is reset
        closed = slow.closed_by_peer(timeout=5)
    finally:
        slow.close()
    assert size > 500_000  # one answer bigger than half the byte budget still goes through
    assert closed
