"""Small WebSocket clients for tests: an aiohttp one, and a raw-socket one that can
refuse to read (to play a slow client)."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct
from typing import Any

import aiohttp


class WsClient:
    """Speaks the engine's protocol; keeps pushes apart from command results."""

    def __init__(self, base: str) -> None:
        self.url = base.replace("http://", "ws://") + "/api/ws"
        self.session: aiohttp.ClientSession | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.next_id = 1
        self.results: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.pushes: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.errors_without_id: list[dict[str, Any]] = []
        self._reader: asyncio.Task[None] | None = None
        self.hello: dict[str, Any] = {}

    async def connect(self, token: str | None) -> dict[str, Any]:
        self.session = aiohttp.ClientSession()
        self.ws = await self.session.ws_connect(self.url, max_msg_size=0)
        await self.ws.send_json({"type": "auth", "token": token})
        self.hello = await self.ws.receive_json(timeout=10)
        if self.hello.get("type") == "auth_ok":
            self._reader = asyncio.create_task(self._read())
        return self.hello

    async def _read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            data = json.loads(msg.data)
            if data.get("type") == "result" and data.get("id") in self.results:
                self.results.pop(data["id"]).set_result(data)
            elif data.get("type") == "result":
                self.errors_without_id.append(data)
            else:
                await self.pushes.put(data)

    async def call(self, kind: str, within: float = 30, **fields: Any) -> dict[str, Any]:
        assert self.ws is not None
        msg_id = self.next_id
        self.next_id += 1
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.results[msg_id] = fut
        await self.ws.send_json({"id": msg_id, "type": kind, **fields})
        return await asyncio.wait_for(fut, within)

    async def send_raw(self, text: str | bytes) -> None:
        assert self.ws is not None
        if isinstance(text, bytes):
            await self.ws.send_bytes(text)
        else:
            await self.ws.send_str(text)

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self.session is not None:
            await self.session.close()


class RawWs:
    """A WebSocket over a plain socket that can stop reading entirely."""

    def __init__(self, port: int, recv_buffer: int = 4096) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, recv_buffer)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET /api/ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert b" 101 " in head.split(b"\r\n")[0], head

    def send(self, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        mask = os.urandom(4)
        header = bytes([0x81])
        n = len(data)
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 65536:
            header += bytes([0x80 | 126]) + struct.pack("!H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack("!Q", n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(data))
        self.sock.sendall(header + mask + masked)

    def closed_by_peer(self, timeout: float = 1.0) -> bool:
        """Drain what is buffered; True once the server has closed the connection."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(1 << 20)
                if not chunk:
                    return True
        except (TimeoutError, BlockingIOError):
            return False
        except OSError:
            return True

    def close(self) -> None:
        self.sock.close()
