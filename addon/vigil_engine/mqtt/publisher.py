"""Every event change (own cameras and Frigate's) to MQTT, for Node-RED and MQTT-only users.

Topics under ``topic_prefix`` (default ``vigil``):
- ``<prefix>/events``: ``{"type": "new"|"update"|"end"|..., "event": <event JSON as in
  the API>}`` for every change;
- ``<prefix>/<camera>/risk`` (retained): the camera's latest assessment,
  ``{"event_id", "risk_score", "risk_level", "activity_type", "summary", "status",
  "alert", "time"}``;
- ``<prefix>/available`` (retained): ``online`` / ``offline`` (last will).

One client, reconnecting with backoff; while the broker is away, the newest
changes wait in a bounded queue (the oldest go first), the engine never waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import aiomqtt

from ..config import MqttConfig
from ..events.bus import EventBus, EventMessage
from .tls import tls_context

_LOGGER = logging.getLogger(__name__)
QUEUE = 2048


def risk_payload(event: dict[str, Any]) -> dict[str, Any] | None:
    risk = event.get("risk")
    if not risk:
        return None
    return {"event_id": event["id"], "risk_score": risk.get("risk_score"),
            "risk_level": risk.get("risk_level"), "activity_type": risk.get("activity_type"),
            "summary": risk.get("summary"), "status": risk.get("status"),
            "alert": bool(event.get("alert")), "dismissed": event.get("dismissed"),
            "time": event.get("end_time") or event.get("start_time")}


class MqttPublisher:
    def __init__(self, cfg: MqttConfig, bus: EventBus) -> None:
        self.cfg = cfg
        self.bus = bus
        self.prefix = cfg.topic_prefix
        self.connected = False
        self.published = 0
        self.last_error: str | None = None
        self._queue: asyncio.Queue[EventMessage] | None = None
        self._task: asyncio.Task[None] | None = None
        self._tls = tls_context(cfg.tls)

    async def start(self) -> None:
        self._queue = self.bus.subscribe(QUEUE)
        self._task = asyncio.create_task(self._run(), name="mqtt-out")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._queue is not None:
            self.bus.unsubscribe(self._queue)

    def status(self) -> dict[str, Any]:
        return {"connected": self.connected, "host": self.cfg.host, "port": self.cfg.port,
                "topic_prefix": self.prefix, "published": self.published,
                "error": self.last_error}

    async def _run(self) -> None:
        assert self._queue is not None
        cfg = self.cfg
        available = f"{self.prefix}/available"
        failures = 0
        pending: EventMessage | None = None
        while True:
            try:
                async with aiomqtt.Client(
                        cfg.host, cfg.port, username=cfg.username, password=cfg.password(),
                        identifier=cfg.client_id, keepalive=30, timeout=10,
                        tls_context=self._tls,
                        will=aiomqtt.Will(available, "offline", qos=1, retain=True)) as client:
                    self.connected = True
                    self.last_error = None
                    failures = 0
                    await client.publish(available, "online", qos=1, retain=True)
                    try:
                        while True:
                            msg = pending or await self._queue.get()
                            pending = msg
                            await self._send(client, msg)
                            pending = None
                    except asyncio.CancelledError:
                        # A clean stop sends no last will: say so ourselves.
                        with contextlib.suppress(Exception):
                            await asyncio.wait_for(client.publish(
                                available, "offline", qos=1, retain=True), 2)
                        raise
            except aiomqtt.MqttError as err:
                self.connected = False
                self.last_error = str(err)
                failures += 1
                delay = min(2.0 * 2 ** min(failures - 1, 5), 60.0)
                _LOGGER.warning("MQTT out: broker %s:%d: %s; retry in %.0f s", cfg.host,
                                cfg.port, err, delay)
                await asyncio.sleep(delay)

    async def _send(self, client: aiomqtt.Client, msg: EventMessage) -> None:
        if msg.kind == "mode":
            await client.publish(f"{self.prefix}/mode", msg.event.get("mode", ""), qos=1,
                                 retain=True)
            return
        event = {k: v for k, v in msg.event.items() if k not in ("updated_at", "opened_at")}
        await client.publish(f"{self.prefix}/events",
                             json.dumps({"type": msg.kind, "event": event},
                                        separators=(",", ":")), qos=1)
        risk = risk_payload(event)
        if risk is not None:
            await client.publish(f"{self.prefix}/{event['camera']}/risk",
                                 json.dumps(risk, separators=(",", ":")), qos=1, retain=True)
        self.published += 1
