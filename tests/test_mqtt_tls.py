"""MQTT over TLS, both ways: Frigate's events in and Vigil's events out through a real
mosquitto whose TLS listener has a self-signed certificate (made by openssl), the
Frigate peer publishing on the broker's plain listener, the engine from its CLI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from tests.support.engine import EngineProcess
from tests.support.frigate import FrigatePeer, tracked_object
from tests.support.mosquitto import Mosquitto
from tests.support.tls import make_cert
from vigil_engine.config import ConfigError, parse_config


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory,
           cert: tuple[Path, Path]) -> Iterator[Mosquitto]:
    """Plain and TLS listeners: the peer publishes in clear, Vigil must use TLS."""
    with Mosquitto(tmp_path_factory.mktemp("mqtt"), tls=cert) as b:
        yield b


@pytest.fixture(scope="module")
def peer(broker: Mosquitto, footage_mp4: Path) -> Iterator[FrigatePeer]:
    with FrigatePeer(footage_mp4, broker.port) as p:
        yield p


def server(name: str, peer: FrigatePeer, broker: Mosquitto, **tls: Any) -> dict[str, Any]:
    return {"name": name, "frigate_url": peer.url, "mqtt_host": "127.0.0.1",
            "mqtt_port": broker.tls_port, "reconnect_delay_s": 1, "mqtt_client_id": name,
            **tls}


async def test_frigate_events_in_and_vigil_events_out_over_tls(
        tmp_path: Path, broker: Mosquitto, peer: FrigatePeer, cert: tuple[Path, Path]) -> None:
    ca = str(cert[0])
    config = {
        "frigate": [server("home", peer, broker, mqtt_tls_ca_cert=ca)],
        "mqtt": {"host": "127.0.0.1", "port": broker.tls_port, "tls": True, "tls_ca_cert": ca},
        "risk": {"provider": "rules"},
    }
    async with aiomqtt.Client("127.0.0.1", broker.port) as sub:
        await sub.subscribe("vigil/events")
        eng = await asyncio.to_thread(EngineProcess(tmp_path / "engine", config).start)
        try:
            await asyncio.to_thread(
                eng.wait_for, lambda: eng.json("/api/health")["frigate"]["home"]
                ["mqtt_connected"], 20, 0.5, "the listener connected over TLS")
            obj = tracked_object("front_door")
            await asyncio.to_thread(peer.event, "new", obj)

            async def out() -> dict[str, Any]:
                async for m in sub.messages:
                    body = json.loads(bytes(m.payload))
                    if body["event"].get("frigate", {}).get("event_id") == obj["id"]:
                        return dict(body)
                raise AssertionError("subscription ended")

            # In through the TLS listener, out through it again, to a plain subscriber.
            published = await asyncio.wait_for(out(), 30)
            assert published["type"] == "new" and published["event"]["camera"] == "front_door"
            assert eng.json("/api/stats")["mqtt"]["connected"] is True
        finally:
            await asyncio.to_thread(eng.stop)


def test_an_untrusted_broker_is_refused_with_a_clear_error(
        tmp_path: Path, broker: Mosquitto, peer: FrigatePeer) -> None:
    """TLS verifies the broker: a self-signed certificate nobody vouched for is refused
    (and said so); ``mqtt_tls_insecure`` is the user's explicit way round it."""
    config = {"frigate": [server("strict", peer, broker, mqtt_tls=True),
                          server("lax", peer, broker, mqtt_tls=True, mqtt_tls_insecure=True)],
              "mqtt": {"enabled": False}, "risk": {"provider": "rules"}}
    with EngineProcess(tmp_path / "engine", config) as eng:
        eng.wait_for(lambda: eng.json("/api/health")["frigate"]["lax"]["mqtt_connected"],
                     20, what="the insecure listener connected")
        stats = eng.wait_for(lambda: (s := eng.json("/api/stats")["frigate"]["strict"])
                             ["error"] and s, 20, what="the refusal")
        assert not eng.json("/api/health")["frigate"]["strict"]["mqtt_connected"]
        assert "certificate verify failed" in stats["error"], stats["error"]
        assert "certificate verify failed" in eng.log()


def test_tls_options_are_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    not_pem = tmp_path / "ca.pem"
    not_pem.write_text("not a certificate\n")
    base = {"name": "home", "frigate_url": "http://127.0.0.1:5000", "mqtt_tls": True}
    for ca, message in ((str(tmp_path / "missing.pem"), "file not found"),
                        (str(not_pem), "not a PEM CA certificate")):
        with pytest.raises(ConfigError) as err:
            parse_config({"frigate": [{**base, "mqtt_tls_ca_cert": ca}]}, data_dir=tmp_path)
        assert any(p.startswith("frigate[0].mqtt_tls_ca_cert: " + message)
                   for p in err.value.problems), err.value.problems
    with pytest.raises(ConfigError) as err:
        parse_config({"frigate": [{**base, "mqtt_tls": "yes"}]}, data_dir=tmp_path)
    assert "frigate[0].mqtt_tls" in str(err.value)
    # The Supervisor's broker says ssl: the engine speaks TLS to it with no YAML at all.
    monkeypatch.setenv("VIGIL_MQTT_HOST", "core-mosquitto")
    plain = {"frigate": [{"name": "home", "frigate_url": "http://f:5000"}]}
    for ssl, expected in (("true", True), ("false", False)):
        monkeypatch.setenv("VIGIL_MQTT_SSL", ssl)
        cfg = parse_config(plain, data_dir=tmp_path)
        assert (cfg.frigate[0].mqtt_tls is not None) is expected
        assert (cfg.mqtt.tls is not None) is expected
