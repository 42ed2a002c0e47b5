"""Optional TLS for the API (``api.tls``): HTTPS and WSS with a real certificate made by
openssl, no clear-text fallback, Secure cookies, and clear errors for bad files."""

from __future__ import annotations

import asyncio
import http.client
import json
import ssl
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.engine import EngineProcess, free_port
from tests.support.tls import make_cert

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def camera() -> dict[str, object]:
    return {"gate": {"inputs": [{"url": f"rtsp://127.0.0.1:{free_port()}/x",
                                 "roles": ["detect"]}]}}


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    tmp = tmp_path_factory.mktemp("tls")
    cert, key = make_cert(tmp)
    eng = EngineProcess(tmp, {"api": {"tls": {"cert": str(cert), "key": str(key)}},
                              "cameras": camera()}).start()
    yield eng
    eng.stop()


def test_https_serves_the_api_and_sets_secure_cookies(engine: EngineProcess) -> None:
    assert engine.base.startswith("https://")
    health = engine.json("/api/health")
    assert health["instance_id"]
    resp = engine.request("/api/login", token="", method="POST",
                          data=json.dumps({"token": engine.token}).encode(),
                          headers={"Content-Type": "application/json"})
    assert resp.status == 200
    cookie = resp.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie
    assert engine.get("/api/cameras", token="wrong-wrong-wrong-wrong").status == 401


def test_clear_text_http_is_not_answered(engine: EngineProcess) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", engine.port, timeout=10)
    with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
        conn.request("GET", "/api/health", headers={"Authorization": f"Bearer {engine.token}"})
        conn.getresponse().read()
    conn.close()
    # A client that does not trust the certificate refuses to talk (no silent downgrade).
    strict = ssl.create_default_context()
    https = http.client.HTTPSConnection("127.0.0.1", engine.port, timeout=10, context=strict)
    with pytest.raises(ssl.SSLError):
        https.request("GET", "/api/health")
    https.close()
    assert engine.get("/api/health").status == 200


def test_websocket_over_tls(engine: EngineProcess) -> None:
    async def run() -> tuple[str, str]:
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(f"wss://127.0.0.1:{engine.port}/api/ws",
                                          ssl=engine.ssl_context)
            await ws.send_json({"type": "auth", "token": engine.token})
            hello = await ws.receive_json(timeout=10)
            await ws.send_json({"id": 1, "type": "ping"})
            pong = await ws.receive_json(timeout=10)
            await ws.close()
            return hello["type"], pong["result"]

    assert asyncio.run(run()) == ("auth_ok", "pong")


def test_bad_tls_files_are_clear_errors(tmp_path: Path) -> None:
    missing = EngineProcess(tmp_path / "a", {"api": {"tls": {
        "cert": str(tmp_path / "nope.pem"), "key": str(tmp_path / "nope.key")}},
        "cameras": camera()})
    with pytest.raises(RuntimeError, match=r"api\.tls\.cert: file not found"):
        missing.start(timeout=20)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate\n")
    broken = EngineProcess(tmp_path / "b", {"api": {"tls": {
        "cert": str(garbage), "key": str(garbage)}}, "cameras": camera()})
    with pytest.raises(RuntimeError, match=r"api\.tls: cannot use certificate"):
        broken.start(timeout=20)
