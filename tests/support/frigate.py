"""A stand-in for Frigate (which cannot run here), following Frigate's documented API.

HTTP (Frigate's docs, "HTTP API"): ``GET /api/version`` (plain text),
``GET /api/events/{id}/clip.mp4``, ``GET /api/events/{id}/snapshot.jpg``,
``GET /api/<camera>/latest.jpg`` and ``POST /api/events/{id}/description``
(JSON ``{"description": ...}``). Clips are the real footage (vtest.mp4).

MQTT (Frigate's docs, "MQTT"): ``<prefix>/events`` carries ``{"type": "new" |
"update" | "end", "before": {...}, "after": {...}}`` with Frigate's tracked-object
fields, published to a real broker.

Runs its own event loop in a thread, so synchronous tests can drive it.
"""

from __future__ import annotations

import asyncio
import io
import json
import random
import string
import subprocess
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import av
from aiohttp import web
from PIL import Image

from tests.support.engine import free_port

VERSION = "0.14.1-f4f3cfa"


def _frame_jpeg(footage: Path, at: float = 20.0) -> bytes:
    with av.open(str(footage)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= at:
                img = frame.to_image()
                break
        else:
            img = Image.new("RGB", (768, 576))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=80)
    return buf.getvalue()


def frigate_id(start: float) -> str:
    return f"{start:.6f}-" + "".join(random.choices(string.ascii_lowercase + string.digits, k=6))


def tracked_object(camera: str = "front_door", label: str = "person", *,
                   start: float | None = None, end: float | None = None,
                   score: float = 0.84, top_score: float = 0.91,
                   current_zones: list[str] | None = None,
                   entered_zones: list[str] | None = None, false_positive: bool = False,
                   has_clip: bool = True, has_snapshot: bool = True, sub_label: Any = None,
                   object_id: str | None = None) -> dict[str, Any]:
    """A tracked object with the field set of Frigate's ``frigate/events`` payload."""
    start = time.time() if start is None else start
    frame_time = end if end is not None else start + 0.5
    return {
        "id": object_id or frigate_id(start),
        "camera": camera,
        "frame_time": frame_time,
        "snapshot": {"frame_time": frame_time, "box": [415, 189, 528, 400], "area": 23843,
                     "region": [260, 146, 660, 546], "score": top_score, "attributes": []},
        "label": label,
        "sub_label": sub_label,
        "top_score": top_score,
        "false_positive": false_positive,
        "start_time": start,
        "end_time": end,
        "score": score,
        "box": [424, 200, 536, 412],
        "area": 23744,
        "ratio": 0.528,
        "region": [264, 150, 667, 553],
        "active": end is None,
        "stationary": False,
        "motionless_count": 0,
        "position_changes": 2,
        "current_zones": current_zones or [],
        "entered_zones": entered_zones or [],
        "has_clip": has_clip,
        "has_snapshot": has_snapshot,
        "attributes": {},
        "current_attributes": [],
    }


class FrigatePeer:
    def __init__(self, footage: Path, mqtt_port: int, prefix: str = "frigate",
                 http_port: int | None = None) -> None:
        self.footage = footage
        self.mqtt_port = mqtt_port
        self.prefix = prefix
        self.http_port = http_port or free_port()
        self.jpeg = _frame_jpeg(footage)
        self.descriptions: dict[str, list[str]] = {}
        self.requests: list[str] = []
        self.no_clip: set[str] = set()  # ids Frigate answers 404 for
        self.failing = False  # answer 500 to clip downloads
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self._client: Any = None  # aiomqtt.Client (imported lazily: HA's venv has none)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def _run(self, coro: Any, timeout: float = 30) -> Any:
        fut: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return fut.result(timeout)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FrigatePeer:
        self._thread.start()
        self.start_http()
        return self

    def stop(self) -> None:
        self.stop_http()
        if self._client is not None:
            client, self._client = self._client, None
            self._run(client.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)

    def __enter__(self) -> FrigatePeer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start_http(self) -> None:
        async def go() -> None:
            app = web.Application()
            app.router.add_get("/api/version", self._version)
            app.router.add_get("/api/events/{id}/clip.mp4", self._clip)
            app.router.add_get("/api/events/{id}/snapshot.jpg", self._snapshot)
            app.router.add_post("/api/events/{id}/description", self._description)
            app.router.add_get("/api/{camera}/latest.jpg", self._latest)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            await web.TCPSite(self._runner, "127.0.0.1", self.http_port,
                              reuse_address=True).start()

        self._run(go())

    def stop_http(self) -> None:
        """Frigate down: nothing listens on its port."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            self._run(runner.cleanup())

    # ------------------------------------------------------------------ HTTP

    async def _version(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        return web.Response(text=VERSION)

    async def _clip(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        if request.match_info["id"] in self.no_clip:
            return web.json_response({"success": False, "message": "Event not found"},
                                     status=404)
        if self.failing:
            return web.Response(status=500, text="Internal Server Error")
        return web.FileResponse(self.footage, headers={"Content-Type": "video/mp4"})

    async def _snapshot(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        if request.match_info["id"] in self.no_clip:
            return web.json_response({"success": False, "message": "Event not found"},
                                     status=404)
        return await self._send_jpeg(request)

    async def _latest(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(request.path)
        return await self._send_jpeg(request)

    async def _send_jpeg(self, request: web.Request) -> web.StreamResponse:
        """The picture in a few pieces with pauses between, as a busy Frigate (or any
        server over a real network) sends it: a client must read to the end."""
        resp = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        resp.content_length = len(self.jpeg)
        await resp.prepare(request)
        step = -(-len(self.jpeg) // 3)
        for i in range(0, len(self.jpeg), step):
            await resp.write(self.jpeg[i:i + step])
            await asyncio.sleep(0.05)
        await resp.write_eof()
        return resp

    async def _description(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        body = await request.json()
        if not isinstance(body, dict) or not isinstance(body.get("description"), str):
            return web.json_response({"success": False, "message": "description required"},
                                     status=400)
        self.descriptions.setdefault(request.match_info["id"], []).append(body["description"])
        return web.json_response({"success": True,
                                  "message": "Event description updated"})

    # ------------------------------------------------------------------ MQTT

    async def _ensure_client(self) -> Any:
        import aiomqtt

        if self._client is None:
            client = aiomqtt.Client("127.0.0.1", self.mqtt_port,
                                    identifier=f"frigate-peer-{self.http_port}")
            await client.__aenter__()
            self._client = client
        return self._client

    def publish_raw(self, payload: bytes | str, topic: str | None = None) -> None:
        try:
            import aiomqtt
        except ImportError:  # HA's test venv: the broker's own client does the same
            data = payload.encode() if isinstance(payload, str) else payload
            subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(self.mqtt_port),
                            "-t", topic or f"{self.prefix}/events", "-s"], input=data,
                           check=True, timeout=10)
            return

        async def go() -> None:
            for attempt in range(2):
                try:
                    client = await self._ensure_client()
                    await client.publish(topic or f"{self.prefix}/events", payload)
                    return
                except aiomqtt.MqttError:
                    self._client = None  # broker restarted: connect again
                    if attempt:
                        raise

        self._run(go())

    def publish(self, kind: str, after: dict[str, Any],
                before: dict[str, Any] | None = None) -> None:
        self.publish_raw(json.dumps({"type": kind, "before": before or after, "after": after}))

    def event(self, kind: str, obj: dict[str, Any], **changes: Any) -> dict[str, Any]:
        """Publish ``obj`` (updated with ``changes``) as ``kind``; returns the new state."""
        after = {**obj, **changes}
        if kind == "end" and after.get("end_time") is None:
            after["end_time"] = after["start_time"] + 5.0
            after["frame_time"] = after["end_time"]
            after["active"] = False
        self.publish(kind, after, before=obj)
        return after
