"""Password hunt: camera credentials in both URL forms never leave the engine, except
through the one command made for Home Assistant's live view."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.engine import EngineProcess, free_port
from tests.support.wsclient import WsClient

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

USERINFO_PASSWORD = "S3cretPass1"
QUERY_PASSWORD = "Hunter2Secret"
PASSWORDS = (USERINFO_PASSWORD, QUERY_PASSWORD)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EngineProcess]:
    closed = free_port()  # nothing listens there: FFmpeg's error quotes the URL
    door_url = f"rtsp://alice:{USERINFO_PASSWORD}@127.0.0.1:{closed}/stream1"
    yard_url = f"rtsp://127.0.0.1:{closed}/live?user=bob&password={QUERY_PASSWORD}&ch=1"
    config = {
        "api": {"failed_auth_limit": 100000},
        "cameras": {
            "door": {"inputs": [{"url": door_url, "roles": ["detect", "record"]}],
                     "record": {"enabled": True, "segment_seconds": 4}},
            "yard": {"inputs": [{"url": yard_url, "roles": ["detect"]}]},
        },
    }
    eng = EngineProcess(tmp_path_factory.mktemp("secrets"), config).start()
    eng.urls = {"door": door_url, "yard": yard_url}  # type: ignore[attr-defined]
    eng.wait_for(lambda: all(c["error"] for c in eng.json("/api/cameras")["cameras"]),
                 60, what="both cameras to report their connection error")
    yield eng
    eng.stop()


def assert_clean(where: str, text: str) -> None:
    for password in PASSWORDS:
        assert password not in text, f"{password!r} leaked in {where}: {text[:500]}"


async def _ws_texts(engine: EngineProcess) -> tuple[list[str], dict[str, Any]]:
    client = WsClient(engine.base)
    texts: list[str] = []
    try:
        assert (await client.connect(engine.token))["type"] == "auth_ok"
        for kind in ("cameras/list", "stats/get", "engine/info"):
            texts.append(json.dumps(await client.call(kind)))
        await client.call("cameras/subscribe")
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                texts.append(json.dumps(await asyncio.wait_for(client.pushes.get(), 0.5)))
        sources = {name: await client.call("camera/stream_source", camera=name)
                   for name in ("door", "yard")}
        sources["unknown"] = await client.call("camera/stream_source", camera="nope")
    finally:
        await client.close()
    return texts, sources


def test_no_password_in_any_api_response_push_metric_or_log(engine: EngineProcess) -> None:
    cams = engine.json("/api/cameras")["cameras"]
    by_name = {c["name"]: c for c in cams}
    # The error is still useful: it says what went wrong and where, without the secret.
    for cam in cams:
        assert cam["error"], cam
        assert cam["has_stream"] is True
    assert by_name["door"]["stream_url"].startswith("rtsp://***@127.0.0.1:")
    assert "password=***" in by_name["yard"]["stream_url"]
    assert "ch=1" in by_name["yard"]["stream_url"]

    surfaces = ["/api/cameras", "/api/cameras/door", "/api/cameras/yard", "/api/health",
                "/api/stats", "/metrics", "/api/risk", "/api/risk/jobs"]
    for path in surfaces:
        resp = engine.get(path)
        assert resp.status == 200, (path, resp.status)
        assert_clean(path, resp.body.decode())

    texts, sources = asyncio.run(_ws_texts(engine))
    assert any('"action":"camera"' in t.replace(" ", "") for t in texts), texts[-3:]
    for text in texts:
        assert_clean("a WebSocket message", text)

    # Home Assistant's live view gets the real URL through its own command only.
    assert sources["door"]["success"] and sources["door"]["result"] == {
        "url": engine.urls["door"]}  # type: ignore[attr-defined]
    assert sources["yard"]["result"]["url"] == engine.urls["yard"]  # type: ignore[attr-defined]
    assert sources["unknown"]["error"]["code"] == "unknown_camera"

    log = engine.log()
    assert "cannot read" in log  # the failure was logged...
    assert_clean("the engine log", log)  # ...without the password
    assert engine.token not in log


def test_stream_source_needs_authentication(engine: EngineProcess) -> None:
    async def attempt() -> dict[str, Any]:
        client = WsClient(engine.base)
        try:
            return await client.connect("wrong-token-wrong-token")
        finally:
            await client.close()

    assert asyncio.run(attempt())["type"] == "auth_invalid"
    assert engine.get("/api/cameras", token="wrong").status == 401


def test_recording_errors_and_log_after_restart_stay_clean(engine: EngineProcess) -> None:
    """A second start (reconnect back-off, reconcile) logs nothing secret either."""
    engine.stop()
    engine.start()
    engine.wait_for(lambda: all(c["error"] for c in engine.json("/api/cameras")["cameras"]),
                    60, what="errors after restart")
    for cam in engine.json("/api/cameras")["cameras"]:
        assert_clean("camera status after restart", json.dumps(cam))
    assert_clean("the engine log after restart", engine.log())
