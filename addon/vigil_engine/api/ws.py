"""WebSocket API ``/api/ws``, shaped like Home Assistant's own.

Handshake: the first message must be ``{"type": "auth", "token": ...}`` (a
browser with a valid session cookie or an ingress request may send it without
a token). Requests are ``{"id": n, "type": ...}``; answers are ``{"id": n,
"type": "result", "success": bool, "result" | "error": ...}``; subscriptions
push ``{"id": sub_id, "type": "event", "event": {"action", "data"}}``.

Every client has a send queue bounded in bytes, drained by its own task. The
engine never waits for a client: one whose queue overflows is closed with code
1008 ("client too slow"). A socket that has not authenticated within 10 s is
closed (pings do not extend that), and only authenticated clients count as
clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import struct
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

from .. import __version__
from ..config import ARM_MODES
from ..events.bus import EventMessage
from ..record.service import ClipError
from ..store.db import CursorError
from .auth import token_matches
from .common import (
    ENGINE_KEY,
    ApiError,
    any_camera_or_404,
    camera_or_404,
    event_or_404,
    event_query,
    public_event,
)

if TYPE_CHECKING:
    from ..app import Engine

_LOGGER = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
MAX_MESSAGE = 64 * 1024
SEND_QUEUE_BYTES = 1024 * 1024  # one larger answer (500 events) is always let through
SEND_QUEUE = 512  # messages too: many small answers pile up as surely as large ones
AUTH_TIMEOUT = 10.0
SLOW_CLOSE_CODE = 1008
CAMERA_PUSH_INTERVAL = 1.0


async def close_within(ws: web.WebSocketResponse, seconds: float, code: int = 1000,
                       message: bytes = b"") -> None:
    """Start a close handshake but wait at most ``seconds`` for it. Not wait_for: that
    would wait out a close stuck behind a peer that reads nothing."""
    closing = asyncio.ensure_future(ws.close(code=code, message=message))
    await asyncio.wait({closing}, timeout=seconds)
    if not closing.done():
        closing.cancel()  # the caller aborts the transport, which ends it
    elif not closing.cancelled():
        closing.exception()  # retrieved: a failed close is not worth a warning


class Client:
    def __init__(self, engine: Engine, ws: web.WebSocketResponse, remote: str) -> None:
        self.engine = engine
        self.ws = ws
        self.remote = remote
        self.id = uuid.uuid4().hex[:8]
        self.queue: asyncio.Queue[str | None] = asyncio.Queue(SEND_QUEUE)
        self.queued_bytes = 0
        self.subscriptions: dict[int, Callable[[], None]] = {}
        self.closing = False
        self.dropped_for_slowness = False
        self.transport: asyncio.Transport | None = None

    def send(self, message: dict[str, Any]) -> None:
        """Queue a message; never blocks. A client that cannot keep up is dropped."""
        if self.closing:
            return
        text = json.dumps(message, separators=(",", ":"))
        try:
            if self.queued_bytes and self.queued_bytes + len(text) > SEND_QUEUE_BYTES:
                raise asyncio.QueueFull
            self.queue.put_nowait(text)
            self.queued_bytes += len(text)
        except asyncio.QueueFull:
            self.closing = True
            self.dropped_for_slowness = True
            _LOGGER.warning("WebSocket client %s (%s) too slow (%d KiB waiting); "
                            "disconnecting", self.id, self.remote, self.queued_bytes // 1024)
            # Wake the writer so it closes the socket (it may be stuck in a send).
            with contextlib.suppress(asyncio.QueueEmpty):
                self.queue.get_nowait()
            self.queue.put_nowait(None)
            asyncio.get_running_loop().create_task(self._force_close())

    async def _force_close(self) -> None:
        await close_within(self.ws, 2, SLOW_CLOSE_CODE, b"client too slow")
        if self.transport is not None:
            # Drop it hard (RST): a plain close lets the kernel keep feeding the megabytes
            # already queued to the slow peer at its pace, for minutes.
            sock = self.transport.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.transport.abort()

    def result(self, msg_id: Any, result: Any) -> None:
        self.send({"id": msg_id, "type": "result", "success": True, "result": result})

    def error(self, msg_id: Any, code: str, message: str) -> None:
        self.send({"id": msg_id, "type": "result", "success": False,
                   "error": {"code": code, "message": message}})

    async def writer(self) -> None:
        while True:
            item = await self.queue.get()
            if item is None or self.ws.closed:
                return
            self.queued_bytes -= len(item)
            try:
                await self.ws.send_str(item)
            except (ConnectionResetError, RuntimeError):
                return

    def unsubscribe_all(self) -> None:
        for cancel in self.subscriptions.values():
            cancel()
        self.subscriptions.clear()


# ------------------------------------------------------------------------ validation


def _field(msg: dict[str, Any], name: str, kind: type | tuple[type, ...], *,
           required: bool = True, default: Any = None) -> Any:
    if name not in msg:
        if required:
            raise ApiError(400, "invalid_format", f"{name}: required field is missing")
        return default
    value = msg[name]
    if isinstance(value, bool) and kind is not bool and bool not in (
            kind if isinstance(kind, tuple) else (kind,)):
        raise ApiError(400, "invalid_format", f"{name}: must be {_kind_name(kind)}")
    if not isinstance(value, kind):
        raise ApiError(400, "invalid_format", f"{name}: must be {_kind_name(kind)}")
    return value


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {bool: "true or false", str: "a string", int: "an integer", float: "a number",
             dict: "an object", list: "a list"}
    return " or ".join(dict.fromkeys(names.get(k, k.__name__) for k in kinds))


def _only(msg: dict[str, Any], allowed: set[str]) -> None:
    extra = sorted(set(msg) - allowed - {"id", "type"})
    if extra:
        raise ApiError(400, "invalid_format", f"{extra[0]}: unknown field")


# ------------------------------------------------------------------------ commands

Command = Callable[[Client, dict[str, Any]], Awaitable[Any]]
COMMANDS: dict[str, Command] = {}


def command(name: str) -> Callable[[Command], Command]:
    def register(fn: Command) -> Command:
        COMMANDS[name] = fn
        return fn

    return register


@command("ping")
async def _ping(client: Client, msg: dict[str, Any]) -> Any:
    _only(msg, set())
    return "pong"


@command("cameras/list")
async def _cameras_list(client: Client, msg: dict[str, Any]) -> Any:
    _only(msg, set())
    return client.engine.camera_statuses()


def camera_state(status: dict[str, Any]) -> dict[str, Any]:
    """The part of a camera's status worth pushing (changes are coalesced per second)."""
    return {"name": status["name"], "status": status["status"], "error": status["error"],
            "fps": status["fps"], "detect_fps": status["detect_fps"],
            "motion": status["motion"]["active"], "objects": status["objects"],
            "event_id": status["event_id"], "switches": status["switches"],
            "source": status.get("source", "vigil")}


@command("cameras/subscribe")
async def _cameras_subscribe(client: Client, msg: dict[str, Any]) -> Any:
    _only(msg, set())
    sub_id = msg["id"]
    hub = client.engine.camera_hub
    for status in client.engine.camera_statuses():
        client.send({"id": sub_id, "type": "event",
                     "event": {"action": "camera", "data": camera_state(status)}})
    client.subscriptions[sub_id] = hub.subscribe(client, sub_id)
    return None


@command("events/list")
async def _events_list(client: Client, msg: dict[str, Any]) -> Any:
    engine = client.engine
    query = event_query(msg)
    try:
        rows, cursor = await engine.store.list_events(query, tz=engine.tz)
    except CursorError:
        raise ApiError(400, "invalid_format", "cursor: not a cursor this engine issued") from None
    return {"events": [public_event(e) for e in rows], "next_cursor": cursor}


@command("search")
async def _search(client: Client, msg: dict[str, Any]) -> Any:
    text = _field(msg, "query", str)
    if not text.strip():
        raise ApiError(400, "invalid_format", "query: must not be empty")
    params = {k: v for k, v in msg.items() if k != "query"}
    params["q"] = text
    return await _events_list(client, params)


@command("events/get")
async def _events_get(client: Client, msg: dict[str, Any]) -> Any:
    _only(msg, {"event_id"})
    return public_event(await event_or_404(client.engine, _field(msg, "event_id", str)))


@command("events/subscribe")
async def _events_subscribe(client: Client, msg: dict[str, Any]) -> Any:
    _only(msg, {"camera", "min_risk"})
    camera = _field(msg, "camera", str, required=False)
    if camera is not None:
        any_camera_or_404(client.engine, camera)
    min_risk = _field(msg, "min_risk", int, required=False, default=0)
    sub_id = msg["id"]
    bus = client.engine.bus
    queue = bus.subscribe(maxsize=1024)

    async def pump() -> None:
        while True:
            item: EventMessage = await queue.get()
            data = item.event
            if item.kind == "mode":
                client.send({"id": sub_id, "type": "event",
                             "event": {"action": "mode", "data": data}})
                continue
            if camera is not None and data.get("camera") != camera:
                continue
            score = (data.get("risk") or {}).get("risk_score", 0)
            if min_risk and score < min_risk:
                continue
            client.send({"id": sub_id, "type": "event",
                         "event": {"action": item.kind, "data": public_event(data)}})

    task = asyncio.create_task(pump(), name=f"ws-{client.id}-{sub_id}")

    def cancel() -> None:
        task.cancel()
        bus.unsubscribe(queue)

    client.subscriptions[sub_id] = cancel
    return None


@command("unsubscribe")
async def _unsubscribe(client: Client, msg: dict[str, Any]) -> Any:
    _only(msg, {"subscription"})
    sub = _field(msg, "subscription", int)
    cancel = client.subscriptions.pop(sub, None)
    if cancel is None:
        raise ApiError(404, "not_found", f"subscription: no subscription {sub}")
    cancel()
    return None


async def _flag(client: Client, msg: dict[str, Any], flag: str) -> Any:
    _only(msg, {"event_id", flag})
    ev = await event_or_404(client.engine, _field(msg, "event_id", str))
    value = _field(msg, flag, bool, required=False, default=True)
    return public_event(await client.engine.set_event_flag(ev["id"], flag, value))


@command("events/acknowledge")
async def _acknowledge(client: Client, msg: dict[str, Any]) -> Any:
    return await _flag(client, msg, "acknowledged")


@command("events/protect")
async def _protect(client: Client, msg: dict[str, Any]) -> Any:
    return await _flag(client, msg, "protected")


@command("events/rescore")
async def _rescore(client: Client, msg: dict[str, Any]) -> Any:
    _only(msg, {"event_id"})
    ev = await event_or_404(client.engine, _field(msg, "event_id", str))
    return await client.engine.risk.rescore(ev["id"])


@command("camera/set")
async def _camera_set(client: Client, msg: dict[str, Any]) -> Any:
    from .rest import camera_switches

    name = camera_or_404(client.engine, _field(msg, "camera", str))
    options = camera_switches({k: v for k, v in msg.items() if k not in ("id", "type")})
    return await client.engine.set_camera_options(name, options)


@command("mode/get")
async def _mode_get(client: Client, msg: dict[str, Any]) -> Any:
    _only(msg, set())
    return {"mode": await client.engine.risk.get_mode(), "modes": list(ARM_MODES)}


@command("mode/set")
async def _mode_set(client: Client, msg: dict[str, Any]) -> Any:
    _only(msg, {"mode"})
    mode = _field(msg, "mode", str)
    if mode not in ARM_MODES:
        raise ApiError(400, "invalid_format", f"mode: must be one of {', '.join(ARM_MODES)}")
    await client.engine.set_mode(mode)
    return {"mode": mode}


@command("camera/stream_source")
async def _camera_stream_source(client: Client, msg: dict[str, Any]) -> Any:
    """The camera's real stream URL (credentials included) for Home Assistant's live view.
    Only this command hands it out; listings and pushes carry it without credentials."""
    _only(msg, {"camera"})
    name = camera_or_404(client.engine, _field(msg, "camera", str))
    return {"url": client.engine.pipelines[name].stream_source}


@command("camera/analyze")
async def _camera_analyze(client: Client, msg: dict[str, Any]) -> Any:
    _only(msg, {"camera"})
    name = camera_or_404(client.engine, _field(msg, "camera", str))
    try:
        return await client.engine.analyze_now(name)
    except LookupError as err:
        raise ApiError(409, "no_frame", str(err)) from None


@command("events/days")
async def _events_days(client: Client, msg: dict[str, Any]) -> Any:
    """Days with events (newest first) and their counts, for media browsers."""
    _only(msg, {"camera", "days"})
    engine = client.engine
    name = any_camera_or_404(engine, _field(msg, "camera", str))
    days = _field(msg, "days", int, required=False, default=30)
    if not 1 <= days <= 3650:
        raise ApiError(400, "invalid_format", "days: must be between 1 and 3650")
    return await engine.event_days(name, days)


@command("engine/info")
async def _engine_info(client: Client, msg: dict[str, Any]) -> Any:
    _only(msg, set())
    engine = client.engine
    return {"version": __version__, "instance_id": engine.instance_id,
            "protocol_version": PROTOCOL_VERSION,
            "cameras": [*engine.pipelines, *engine.frigate_cameras],
            "risk_provider": engine.config.risk.provider}


@command("stats/get")
async def _stats(client: Client, msg: dict[str, Any]) -> Any:
    _only(msg, set())
    return await client.engine.stats()


@command("clips/export")
async def _export(client: Client, msg: dict[str, Any]) -> Any:
    _only(msg, {"camera", "start", "end"})
    engine = client.engine
    name = camera_or_404(engine, _field(msg, "camera", str))
    start = float(_field(msg, "start", (int, float)))
    end = float(_field(msg, "end", (int, float)))
    try:
        path = await engine.clips.export(engine.config.cameras[name], start, end)
    except ClipError as err:
        raise ApiError(err.status, err.code, err.message) from None
    size = (await asyncio.to_thread(path.stat)).st_size
    return {"url": f"api/cameras/{name}/clip.mp4?start={start}&end={end}", "size": size,
            "camera": name, "start": start, "end": end}


@command("recordings/timeline")
async def _timeline(client: Client, msg: dict[str, Any]) -> Any:
    from .recordings import timeline_command

    return await timeline_command(client.engine, msg)


@command("recordings/days")
async def _recording_days(client: Client, msg: dict[str, Any]) -> Any:
    from .recordings import days_command

    return await days_command(client.engine, msg)


# ------------------------------------------------------------------------ camera pushes


class CameraHub:
    """Computes camera states once per second and pushes only what changed."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.subscribers: dict[tuple[str, int], Client] = {}
        self.last: dict[str, dict[str, Any]] = {}
        self._task: asyncio.Task[None] | None = None

    def subscribe(self, client: Client, sub_id: int) -> Callable[[], None]:
        key = (client.id, sub_id)
        self.subscribers[key] = client
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="camera-hub")
        def cancel() -> None:
            self.subscribers.pop(key, None)

        return cancel

    async def _run(self) -> None:
        while self.subscribers:
            await asyncio.sleep(CAMERA_PUSH_INTERVAL)
            for status in self.engine.camera_statuses():
                name = status["name"]
                state = camera_state(status)
                if self.last.get(name) == state:
                    continue
                self.last[name] = state
                for (_, sub_id), client in list(self.subscribers.items()):
                    client.send({"id": sub_id, "type": "event",
                                 "event": {"action": "camera", "data": state}})

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


# ------------------------------------------------------------------------ handler


async def _authenticate(client: Client, request: web.Request) -> bool:
    from .server import GUARD_KEY, authenticated, same_origin

    engine = client.engine
    try:
        # One deadline for the whole handshake: pings or fragments do not extend it.
        async with asyncio.timeout(AUTH_TIMEOUT):
            first = await client.ws.receive()
    except TimeoutError:
        client.send({"type": "auth_invalid", "message": "no auth message within 10 s"})
        return False
    if first.type != WSMsgType.TEXT:
        return False
    try:
        msg = json.loads(first.data)
    except ValueError:
        msg = None
    if not isinstance(msg, dict) or msg.get("type") != "auth":
        client.send({"type": "auth_invalid",
                     "message": "first message must be {\"type\": \"auth\", \"token\": ...}"})
        return False
    token = msg.get("token")
    how = authenticated(request) if token is None else None
    if how == "cookie" and not same_origin(request):
        client.send({"type": "auth_invalid",
                     "message": "Origin: a session cookie works only from the engine's pages"})
        return False
    ok = (isinstance(token, str) and token_matches(engine.token, token)) or how is not None
    if not ok:
        guard = request.app[GUARD_KEY]
        if guard.locked(client.remote):
            guard.fail(client.remote)
            client.send({"type": "auth_invalid", "message": "too many failed logins; try later"})
            return False
        await guard.penalise(client.remote)
        client.send({"type": "auth_invalid", "message": "wrong token"})
        return False
    client.send({"type": "auth_ok", "protocol_version": PROTOCOL_VERSION,
                 "version": __version__, "instance_id": engine.instance_id})
    return True


async def _dispatch(client: Client, raw: str) -> None:
    try:
        msg = json.loads(raw)
    except ValueError:
        client.error(None, "invalid_format", "message is not valid JSON")
        return
    if not isinstance(msg, dict):
        client.error(None, "invalid_format", "message must be a JSON object")
        return
    msg_id = msg.get("id")
    if not isinstance(msg_id, int) or isinstance(msg_id, bool) or not 0 < msg_id < 2**53:
        client.error(None, "invalid_format", "id: must be a positive integer")
        return
    kind = msg.get("type")
    if not isinstance(kind, str):
        client.error(msg_id, "invalid_format", "type: must be a string")
        return
    handler = COMMANDS.get(kind)
    if handler is None:
        client.error(msg_id, "unknown_command", f"type: unknown command {kind[:60]!r}")
        return
    if msg_id in client.subscriptions:
        client.error(msg_id, "invalid_format", "id: already used by a subscription")
        return
    try:
        result = await handler(client, msg)
    except ApiError as err:
        code = "invalid_format" if err.code == "invalid_parameter" else err.code
        client.error(msg_id, code, err.message)
    except (ValueError, TypeError) as err:
        client.error(msg_id, "invalid_format", str(err)[:200])
    except Exception:
        _LOGGER.exception("WebSocket command %s failed", kind)
        client.error(msg_id, "internal_error", "internal error (see engine log)")
    else:
        client.result(msg_id, result)


async def handler(request: web.Request) -> web.WebSocketResponse:
    engine = request.app[ENGINE_KEY]
    ws = web.WebSocketResponse(heartbeat=30, max_msg_size=MAX_MESSAGE, autoping=True)
    await ws.prepare(request)
    client = Client(engine, ws, request.remote or "?")
    client.transport = request.transport
    writer = asyncio.create_task(client.writer(), name=f"ws-writer-{client.id}")
    started = time.monotonic()
    try:
        if not await _authenticate(client, request):
            return ws  # the writer sends auth_invalid, then the socket closes
        engine.ws_clients.add(client)
        async for message in ws:
            if client.closing:
                break
            if message.type == WSMsgType.TEXT:
                await _dispatch(client, message.data)
            elif message.type == WSMsgType.BINARY:
                client.error(None, "invalid_format", "binary messages are not supported")
            elif message.type == WSMsgType.ERROR:
                break
    finally:
        engine.ws_clients.discard(client)
        client.unsubscribe_all()
        with contextlib.suppress(asyncio.QueueFull):
            client.queue.put_nowait(None)
        try:
            await asyncio.wait_for(writer, 2)
        except (TimeoutError, asyncio.CancelledError, ConnectionResetError, RuntimeError):
            writer.cancel()
        if not ws.closed:
            await close_within(ws, 1)  # a peer that never answers is not waited for
        if client.transport is not None and not client.transport.is_closing():
            client.transport.abort()
        _LOGGER.debug("WebSocket client %s left after %.0f s", client.id,
                      time.monotonic() - started)
    return ws
