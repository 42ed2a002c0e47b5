"""WebSocket + REST client for one Vigil engine.

Keeps one authenticated WebSocket open, reconnects with backoff forever, and
re-creates its subscriptions after every reconnect. Commands are matched to
answers by id; pushes go to the callback registered for their subscription.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from .const import PROTOCOL_VERSION

_LOGGER = logging.getLogger(__name__)

BACKOFF_START = 1.0
BACKOFF_CAP = 60.0


class VigilError(Exception):
    """Base error for engine communication."""


class CannotConnect(VigilError):
    """The engine is not reachable."""


class InvalidAuth(VigilError):
    """The engine refused the token."""


class UnsupportedVersion(VigilError):
    """The engine speaks a protocol this integration does not."""


class CommandError(VigilError):
    """The engine answered a command with an error."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


PushCallback = Callable[[dict[str, Any]], None]


class VigilClient:
    def __init__(self, session: aiohttp.ClientSession, host: str, port: int, token: str,
                 *, use_ssl: bool = False) -> None:
        self.session = session
        self.host = host
        self.port = port
        self.token = token
        self.use_ssl = use_ssl  # the engine serves HTTPS (api.tls)
        self.info: dict[str, Any] = {}
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._next_id = 1
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._subscriptions: dict[str, tuple[dict[str, Any], PushCallback]] = {}
        self._sub_ids: dict[int, str] = {}
        self._runner: asyncio.Task[None] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._closing = False
        self.on_connection: Callable[[bool], None] | None = None
        self.on_resubscribed: Callable[[], Awaitable[None]] | None = None
        self.on_auth_failed: Callable[[], None] | None = None

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.use_ssl else 'http'}://{host}:{self.port}"

    @property
    def closing(self) -> bool:
        return self._closing

    @property
    def connected(self) -> bool:
        return self._ws is not None and not self._ws.closed and self._connected.is_set()

    # ------------------------------------------------------------------ connect

    async def connect(self) -> dict[str, Any]:
        """One connection attempt with the handshake; raises a VigilError subclass."""
        try:
            # No client heartbeat: the engine pings every client itself, and aiohttp's
            # client heartbeat outlives a refused handshake (a lingering timer).
            ws = await self.session.ws_connect(f"{self.base_url}/api/ws",
                                               timeout=aiohttp.ClientWSTimeout(ws_close=5),
                                               max_msg_size=16 * 1024 * 1024)
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            raise CannotConnect(str(err) or type(err).__name__) from err
        try:
            await ws.send_json({"type": "auth", "token": self.token})
            hello = await ws.receive_json(timeout=10)
        except (aiohttp.ClientError, TimeoutError, TypeError, ValueError) as err:
            await ws.close()
            raise CannotConnect(f"handshake failed: {err}") from err
        if hello.get("type") != "auth_ok":
            await ws.close()
            raise InvalidAuth(hello.get("message", "token refused"))
        if hello.get("protocol_version") != PROTOCOL_VERSION:
            await ws.close()
            raise UnsupportedVersion(
                f"engine speaks protocol {hello.get('protocol_version')}, "
                f"this integration {PROTOCOL_VERSION}")
        self._ws = ws
        self.info = hello
        self._connected.set()
        self._reader = asyncio.create_task(self._read(ws), name=f"vigil-read-{self.host}")
        return hello

    async def start(self) -> None:
        """Connect (raising on failure) and keep the connection alive in the background."""
        await self.connect()
        self._runner = asyncio.create_task(self._run(), name=f"vigil-{self.host}:{self.port}")

    async def close(self) -> None:
        self._closing = True
        for task in (self._runner, self._reader):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._ws is not None:
            await self._ws.close()
        self._fail_pending(CannotConnect("client closed"))

    async def _run(self) -> None:
        backoff = BACKOFF_START
        first = True
        while not self._closing:
            if not first:
                try:
                    await self.connect()
                except InvalidAuth:
                    if self.on_connection:
                        self.on_connection(False)
                    _LOGGER.error("Vigil engine at %s refused the token", self.base_url)
                    if self.on_auth_failed:
                        self.on_auth_failed()
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_CAP)
                    continue
                except VigilError:
                    await asyncio.sleep(backoff)
                    backoff = min(backoff * 2, BACKOFF_CAP)
                    continue
                backoff = BACKOFF_START
                if self.on_connection:
                    self.on_connection(True)
                await self._resubscribe()
            first = False
            if self._reader is not None:
                await asyncio.shield(self._reader)
            self._connected.clear()
            self._fail_pending(CannotConnect("connection lost"))
            if self._closing:
                return
            if self.on_connection:
                self.on_connection(False)

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                try:
                    data = msg.json()
                except ValueError:
                    continue
                self._handle(data)
        except (aiohttp.ClientError, asyncio.CancelledError, ConnectionResetError):
            if self._closing:
                raise

    def _handle(self, data: dict[str, Any]) -> None:
        msg_id = data.get("id")
        if data.get("type") == "result":
            fut = self._pending.pop(msg_id, None) if isinstance(msg_id, int) else None
            if fut is not None and not fut.done():
                if data.get("success"):
                    fut.set_result(data.get("result"))
                else:
                    err = data.get("error") or {}
                    fut.set_exception(CommandError(err.get("code", "error"),
                                                   err.get("message", "engine error")))
        elif data.get("type") == "event" and isinstance(msg_id, int):
            key = self._sub_ids.get(msg_id)
            if key is not None:
                try:
                    self._subscriptions[key][1](data.get("event") or {})
                except Exception:  # a bad push or handler must not end the connection
                    _LOGGER.exception("Vigil push for %s could not be handled", key)

    def _fail_pending(self, err: Exception) -> None:
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(err)
        self._pending.clear()

    # ------------------------------------------------------------------ commands

    async def command(self, kind: str, within: float = 30.0, **fields: Any) -> Any:
        if not self.connected or self._ws is None:
            raise CannotConnect("not connected to the engine")
        msg_id = self._next_id
        self._next_id += 1
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = fut
        try:
            await self._ws.send_json({"id": msg_id, "type": kind, **fields})
        except (aiohttp.ClientError, ConnectionResetError, RuntimeError) as err:
            self._pending.pop(msg_id, None)
            raise CannotConnect(str(err)) from err
        try:
            return await asyncio.wait_for(fut, within)
        finally:
            self._pending.pop(msg_id, None)

    async def subscribe(self, key: str, kind: str, callback: PushCallback,
                        **fields: Any) -> None:
        """Subscribe now and again after every reconnect."""
        self._subscriptions[key] = ({"type": kind, **fields}, callback)
        await self._subscribe(key)

    async def _subscribe(self, key: str) -> None:
        spec, _ = self._subscriptions[key]
        msg_id = self._next_id  # the command's id becomes the subscription id
        self._sub_ids[msg_id] = key
        fields = {k: v for k, v in spec.items() if k != "type"}
        await self.command(spec["type"], **fields)

    async def _resubscribe(self) -> None:
        self._sub_ids.clear()
        for key in list(self._subscriptions):
            try:
                await self._subscribe(key)
            except VigilError as err:
                _LOGGER.warning("Cannot resubscribe %s: %s", key, err)
        if self.on_resubscribed is not None:
            await self.on_resubscribed()

    # ------------------------------------------------------------------ REST (media)

    async def get_bytes(self, path: str, *, params: dict[str, Any] | None = None,
                        within: float = 30.0) -> bytes:
        try:
            async with self.session.get(
                    f"{self.base_url}/{path.lstrip('/')}", params=params,
                    headers={"Authorization": f"Bearer {self.token}"},
                    timeout=aiohttp.ClientTimeout(total=within)) as resp:
                if resp.status == 404:
                    raise CommandError("not_found", await resp.text())
                if resp.status == 401:
                    raise InvalidAuth("token refused")
                resp.raise_for_status()
                return await resp.read()
        except (aiohttp.ClientError, TimeoutError) as err:
            raise CannotConnect(str(err)) from err

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}
