"""MQTT out for Vigil's own cameras, with the broker taken from the environment (the way
the HA app passes the Supervisor's MQTT service): Node-RED users get every event."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiomqtt
import pytest

from tests.support.engine import EngineProcess
from tests.support.mosquitto import Mosquitto


async def test_own_camera_events_reach_mqtt(tmp_path: Path, footage_mp4: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with Mosquitto(tmp_path / "mqtt") as broker:
        monkeypatch.setenv("VIGIL_MQTT_HOST", "127.0.0.1")
        monkeypatch.setenv("VIGIL_MQTT_PORT", str(broker.port))
        config = {"cameras": {"plaza": {
            "inputs": [{"url": str(footage_mp4), "loop": True}],
            "detect": {"fps": 5, "width": 768, "height": 576},
            "events": {"idle_timeout": 2, "max_length": 8}}}}
        async with aiomqtt.Client("127.0.0.1", broker.port) as sub:
            await sub.subscribe("vigil/#")
            eng = await asyncio.to_thread(EngineProcess(tmp_path / "engine", config).start)
            try:
                seen: dict[str, list[dict[str, object]]] = {}

                async def collect() -> None:
                    async for m in sub.messages:
                        topic = m.topic.value
                        body = bytes(m.payload).decode()
                        seen.setdefault(topic, []).append(
                            json.loads(body) if body.startswith("{") else {"raw": body})
                        kinds = {e["type"] for e in seen.get("vigil/events", [])}
                        if {"new", "end"} <= kinds and "vigil/plaza/risk" in seen:
                            return

                await asyncio.wait_for(collect(), 90)
            finally:
                await asyncio.to_thread(eng.stop)
            # A clean stop leaves "offline" behind for whoever subscribes next.
            async with aiomqtt.Client("127.0.0.1", broker.port) as late:
                await late.subscribe("vigil/available")
                m = await asyncio.wait_for(anext(late.messages), 10)
                assert m.retain and m.payload == b"offline"
        events = seen["vigil/events"]
        first = events[0]
        assert first["type"] == "new" and first["event"]["camera"] == "plaza"
        assert first["event"]["source"] == "vigil" and first["event"]["risk"] is not None
        risk = seen["vigil/plaza/risk"][-1]
        assert risk["risk_level"] in ("low", "medium", "high", "critical")
        assert seen["vigil/available"][0] == {"raw": "online"}
