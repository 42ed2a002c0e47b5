"""Hardening of every network endpoint: traversal, brute force, CORS, ingress, cookies,
body limits, metrics. The engine runs from its CLI with real footage and recording."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import EngineProcess

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SECRETS = (b"root:x:0:0", b"PRAGMA", b"SQLite format", b"import ", b"data_dir")


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, footage_mp4: Path) -> Iterator[EngineProcess]:
    config = {
        "api": {"failed_auth_limit": 100000, "ingress": True, "ingress_proxies": ["127.0.0.1"],
                "cors_origins": ["http://ha.local:8123"]},
        "storage": {"check_seconds": 2},
        "cameras": {"plaza": {
            "inputs": [{"url": str(footage_mp4), "roles": ["detect", "record"], "loop": True}],
            "detect": {"fps": 5, "width": 768, "height": 576},
            "events": {"idle_timeout": 2, "max_length": 8},
            "record": {"enabled": True, "segment_seconds": 4},
        }},
    }
    eng = EngineProcess(tmp_path_factory.mktemp("hard"), config).start()
    eng.wait_for(lambda: any(e["has_clip"] and e["has_snapshot"] for e in eng.all_events()),
                 90, what="an event with snapshot and clip")
    yield eng
    eng.stop()


def raw(engine: EngineProcess, path: str, headers: dict[str, str] | None = None,
        method: str = "GET", body: bytes | None = None) -> tuple[int, bytes, dict[str, str]]:
    """Send the path byte for byte (no client-side normalisation of '..')."""
    conn = http.client.HTTPConnection("127.0.0.1", engine.port, timeout=15)
    conn.putrequest(method, path, skip_accept_encoding=True)
    sent = {"Authorization": f"Bearer {engine.token}"} if headers is None else headers
    for k, v in sent.items():
        conn.putheader(k, v)
    if body is not None:
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data, {k: v for k, v in resp.getheaders()}


def test_path_traversal_on_every_file_route(engine: EngineProcess) -> None:
    ev = next(e for e in engine.all_events() if e["has_clip"] and e["has_snapshot"])
    eid = ev["id"]
    attacks = ["../../../../etc/passwd", "..%2f..%2f..%2fetc%2fpasswd",
               "%2e%2e%2f%2e%2e%2fvigil.db", "/etc/passwd", "%2fetc%2fpasswd",
               "..\\..\\vigil.db", "token%00.jpg", "vigil.db",
               "....//....//token", "%252e%252e%252ftoken", "plaza/../../token"]
    routes = ["/ui/{x}", "/api/events/{x}/snapshot.jpg", "/api/events/{x}/clip.mp4",
              "/api/events/{x}", "/api/cameras/{x}/latest.jpg", "/api/cameras/{x}/mjpeg",
              "/api/cameras/{x}/clip.mp4?start=1&end=2", "/api/cameras/{x}/recordings",
              f"/api/events/{eid}/snapshot.jpg?object={{x}}", "/{x}",
              "/api/cameras/{x}/timeline", "/api/cameras/{x}/vod.m3u8?start=1",
              "/api/cameras/plaza/vod/{x}.ts?base=1", "/api/cameras/{x}/preview.jpg?time=1",
              "/api/cameras/plaza/timeline?date={x}"]
    checked = 0
    for route in routes:
        for attack in attacks:
            status, body, _ = raw(engine, route.replace("{x}", attack))
            assert 400 <= status < 500, (route, attack, status)
            assert not any(s in body for s in SECRETS), (route, attack, body[:200])
            assert engine.token.encode() not in body
            checked += 1
    assert checked == len(routes) * len(attacks)
    # The real files are still served to an authorised client.
    assert raw(engine, f"/api/events/{eid}/snapshot.jpg")[0] == 200
    assert raw(engine, f"/api/events/{eid}/clip.mp4")[0] == 200
    assert raw(engine, "/ui/app.js")[0] in (200, 404)  # UI assets only by strict name


def test_body_limits_and_bad_bodies(engine: EngineProcess) -> None:
    eid = engine.all_events()[0]["id"]
    status, body, _ = raw(engine, f"/api/events/{eid}/protect", method="POST",
                          headers={"Authorization": f"Bearer {engine.token}",
                                   "Content-Type": "application/json"},
                          body=b"{" + b" " * 200_000 + b"}")
    assert status == 413 and json.loads(body)["error"]["code"] == "body_too_large"
    for payload, field in [(b"not json", "body"), (b"[1,2]", "body"),
                           (b'{"protected": "yes"}', "protected")]:
        status, body, _ = raw(engine, f"/api/events/{eid}/protect", method="POST",
                              headers={"Authorization": f"Bearer {engine.token}",
                                       "Content-Type": "application/json"}, body=payload)
        assert status == 400 and json.loads(body)["error"]["message"].startswith(field)
    status, body, _ = raw(engine, "/api/cameras/plaza", method="POST",
                          headers={"Authorization": f"Bearer {engine.token}",
                                   "Content-Type": "application/json"},
                          body=b'{"colour": true}')
    assert status == 400 and json.loads(body)["error"]["message"].startswith("colour")


def test_cookie_session_for_browsers(engine: EngineProcess) -> None:
    status, _, _ = raw(engine, "/api/login", method="POST", headers={
        "Content-Type": "application/json"}, body=b'{"token": "nope-nope-nope-nope"}')
    assert status == 401
    status, _, headers = raw(engine, "/api/login", method="POST", headers={
        "Content-Type": "application/json"}, body=json.dumps({"token": engine.token}).encode())
    assert status == 200
    cookie = headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    value = cookie.split(";")[0]
    assert engine.token not in value  # the cookie is not the token
    assert raw(engine, "/api/events?limit=1", headers={"Cookie": value})[0] == 200
    assert raw(engine, "/api/events?limit=1", headers={"Cookie": "vigil_session=forged"})[0] == 401
    assert raw(engine, "/", headers={})[0] == 200  # the UI shell itself is public


def test_ingress_is_trusted_only_with_its_header(engine: EngineProcess) -> None:
    # This engine trusts 127.0.0.1 as its ingress proxy (as the Supervisor's would be).
    assert raw(engine, "/api/cameras", headers={"X-Ingress-Path": "/api/hassio_ingress/x"})[0] \
        == 200
    assert raw(engine, "/api/cameras", headers={})[0] == 401


def test_cors_only_for_configured_origins(engine: EngineProcess) -> None:
    auth = {"Authorization": f"Bearer {engine.token}"}
    _, _, h = raw(engine, "/api/health", headers={**auth, "Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in h
    _, _, h = raw(engine, "/api/health", headers={**auth, "Origin": "http://ha.local:8123"})
    assert h["Access-Control-Allow-Origin"] == "http://ha.local:8123"
    status, _, h = raw(engine, "/api/health", method="OPTIONS",
                       headers={"Origin": "http://ha.local:8123",
                                "Access-Control-Request-Method": "GET"})
    assert status == 204 and "Authorization" in h["Access-Control-Allow-Headers"]


def test_metrics_cover_the_engine(engine: EngineProcess) -> None:
    text = engine.get("/metrics").body.decode()
    for needle in ('vigil_camera_fps{camera="plaza"}', 'vigil_camera_detect_fps{camera="plaza"}',
                   'vigil_camera_motion_percent{camera="plaza"}', "vigil_inference_ms ",
                   'vigil_events_total{camera="plaza",label="person",risk_level="',
                   "vigil_llm_calls_total ", "vigil_llm_errors_total ",
                   "vigil_risk_fallbacks_total ", "vigil_detector_queue ",
                   'vigil_storage_bytes{camera="plaza"}', "vigil_ws_clients ",
                   'vigil_camera_snapshot_frames_held{camera="plaza"}'):
        assert needle in text, needle
    samples = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    for line in samples:
        name_part, value = line.rsplit(" ", 1)
        float(value)  # every sample is a number
        assert name_part.startswith("vigil_")
    fps = next(float(ln.rsplit(" ", 1)[1]) for ln in samples
               if ln.startswith('vigil_camera_fps{camera="plaza"}'))
    assert fps > 5


def test_repeated_failures_slow_down_then_lock_out(tmp_path: Path, footage_mp4: Path) -> None:
    config: dict[str, Any] = {"api": {"failed_auth_limit": 12}, "cameras": {"plaza": {
        "inputs": [{"url": str(footage_mp4), "loop": True}]}}}
    with EngineProcess(tmp_path, config) as eng:
        timings = []
        for _ in range(12):
            t0 = time.monotonic()
            assert eng.get("/api/health", token="wrong-wrong-wrong-wrong").status == 401
            timings.append(time.monotonic() - t0)
        assert timings[0] < 0.2  # a typo costs nothing ...
        assert timings[-1] >= 1.0  # ... a guessing run gets slower and slower
        t0 = time.monotonic()
        locked = eng.get("/api/health", token="wrong-wrong-wrong-wrong")
        assert locked.status == 429 and locked.json()["error"]["code"] == "too_many_failures"
        assert time.monotonic() - t0 < 3.0  # refused at once (a penalty would be 5 s)
        # The right token is always accepted: sharing an address never locks the owner out.
        assert eng.get("/api/health").status == 200
