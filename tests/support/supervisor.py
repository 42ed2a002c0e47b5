"""A stand-in for the Home Assistant Supervisor, for the app image test.

The Supervisor cannot run here, so this follows its documented API as an app
sees it. It runs inside the app container's network namespace (the test starts
it with ``ip netns exec``) at the Supervisor's own address, 172.30.32.2, port
80, which the app reaches as ``http://supervisor``:

- ``POST /discovery`` ``{"service", "config"}`` -> ``{"result": "ok", "data":
  {"uuid"}}``, with the app's SUPERVISOR_TOKEN as bearer token;
- ``GET /services/mqtt`` -> the broker the MQTT provider app offers.

The test reaches it through a Unix socket (netns-independent):

- ``/api/hassio_ingress/<token>/<path>``: Home Assistant's ingress path. The
  request is proxied to the app's ingress port from 172.30.32.2 with the
  headers Home Assistant core and the Supervisor add (X-Ingress-Path,
  X-Hass-Source, X-Forwarded-*, X-Remote-User-*), like the real chain;
- ``/direct/<path>``: straight to the app's port from 127.0.0.1 (no trust);
- ``/_stand_in/discovery``: what the app announced.

Usage: ``python -m tests.support.supervisor --socket PATH --token T
[--mqtt JSON] [--fail-discovery N] [--app-port 8765]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import uuid
from typing import Any

import aiohttp
from aiohttp import hdrs, web

SUPERVISOR_IP = "172.30.32.2"
CORE_IP = "172.30.32.1"  # Home Assistant core, which sends ingress requests on
HOP_HEADERS = {hdrs.CONTENT_LENGTH, hdrs.CONTENT_ENCODING, hdrs.TRANSFER_ENCODING,
               hdrs.HOST, hdrs.CONNECTION}


class StandIn:
    def __init__(self, args: argparse.Namespace) -> None:
        self.token: str = args.token
        self.mqtt: dict[str, Any] | None = json.loads(args.mqtt) if args.mqtt else None
        self.fail_discovery: int = args.fail_discovery
        self.app_port: int = args.app_port
        self.discovery: list[dict[str, Any]] = []
        self.rejected: list[dict[str, Any]] = []

    # ------------------------------------------------------------ the app's side
    def _authorized(self, request: web.Request) -> bool:
        auth = request.headers.get(hdrs.AUTHORIZATION, "")
        given = auth[7:] if auth.startswith("Bearer ") else request.headers.get(
            "X-Supervisor-Token", "")
        return given == self.token

    @staticmethod
    def _error(status: int, message: str) -> web.Response:
        return web.json_response({"result": "error", "message": message}, status=status)

    async def post_discovery(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "Unauthorized")
        try:
            body = await request.json()
        except ValueError:
            return self._error(400, "Invalid JSON")
        if not (isinstance(body, dict) and isinstance(body.get("service"), str)
                and isinstance(body.get("config"), dict)):
            self.rejected.append({"body": body})
            return self._error(400, "does not match the discovery schema")
        if self.fail_discovery > 0:  # a Supervisor that is busy or restarting
            self.fail_discovery -= 1
            self.rejected.append({"body": body, "reason": "busy"})
            return self._error(503, "Supervisor is busy")
        msg_uuid = uuid.uuid4().hex
        self.discovery.append({"uuid": msg_uuid, "service": body["service"],
                               "config": body["config"]})
        return web.json_response({"result": "ok", "data": {"uuid": msg_uuid}})

    async def get_mqtt(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return self._error(401, "Unauthorized")
        if self.mqtt is None:
            return self._error(400, "Service not enabled")
        return web.json_response({"result": "ok", "data": self.mqtt})

    # ------------------------------------------------------------ the test's side
    async def get_record(self, request: web.Request) -> web.Response:
        return web.json_response({"discovery": self.discovery, "rejected": self.rejected})

    async def ingress(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        headers = self._forward_headers(request)
        headers["X-Ingress-Path"] = f"/api/hassio_ingress/{token}"
        headers["X-Hass-Source"] = "core.ingress"
        headers[hdrs.X_FORWARDED_HOST] = request.headers.get(hdrs.HOST, "homeassistant.local")
        headers[hdrs.X_FORWARDED_PROTO] = "http"
        headers[hdrs.X_FORWARDED_FOR] = f"192.168.1.50, {CORE_IP}"
        headers["X-Remote-User-Id"] = "0123456789abcdef0123456789abcdef"
        headers["X-Remote-User-Name"] = "owner"
        headers["X-Remote-User-Display-Name"] = "Owner"
        if request.headers.get(hdrs.UPGRADE, "").lower() == "websocket":
            return await self._proxy_ws(request, request.match_info["path"], headers)
        return await self._proxy(request, request.match_info["path"], headers, SUPERVISOR_IP)

    async def direct(self, request: web.Request) -> web.StreamResponse:
        return await self._proxy(request, request.match_info["path"],
                                 self._forward_headers(request), "127.0.0.1")

    @staticmethod
    def _forward_headers(request: web.Request) -> dict[str, str]:
        return {k: v for k, v in request.headers.items()
                if k not in HOP_HEADERS and not k.lower().startswith("sec-websocket")
                and k != hdrs.UPGRADE}

    async def _proxy_ws(self, request: web.Request, path: str,
                        headers: dict[str, str]) -> web.StreamResponse:
        """WebSocket through ingress, relayed message by message like the Supervisor."""
        server = web.WebSocketResponse(autoping=False)
        await server.prepare(request)
        connector = aiohttp.TCPConnector(local_addr=(SUPERVISOR_IP, 0), force_close=True)
        async with aiohttp.ClientSession(connector=connector) as session, session.ws_connect(
            f"http://127.0.0.1:{self.app_port}/{path}", headers=headers, autoping=False,
        ) as client:
            async def relay(src: Any, dst: Any) -> None:
                async for msg in src:
                    if msg.type == aiohttp.WSMsgType.TEXT:
                        await dst.send_str(msg.data)
                    elif msg.type == aiohttp.WSMsgType.BINARY:
                        await dst.send_bytes(msg.data)
                    else:
                        break

            tasks = [asyncio.create_task(relay(server, client)),
                     asyncio.create_task(relay(client, server))]
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in tasks:
                task.cancel()
        await server.close()
        return server

    async def _proxy(self, request: web.Request, path: str, headers: dict[str, str],
                     source: str) -> web.StreamResponse:
        connector = aiohttp.TCPConnector(local_addr=(source, 0), force_close=True)
        url = f"http://127.0.0.1:{self.app_port}/{path}"
        body = await request.read()
        try:
            async with aiohttp.ClientSession(connector=connector) as session, session.request(
                request.method, url, headers=headers, params=request.query, data=body,
                allow_redirects=False, timeout=aiohttp.ClientTimeout(total=30),
                skip_auto_headers={hdrs.CONTENT_TYPE},
            ) as result:
                payload = await result.read()
                out = {k: v for k, v in result.headers.items()
                       if k not in HOP_HEADERS and k != hdrs.CONTENT_TYPE}
                return web.Response(status=result.status, body=payload, headers=out,
                                    content_type=result.content_type)
        except aiohttp.ClientError as err:
            return self._error(502, f"Ingress error: {err}")


async def main(args: argparse.Namespace) -> None:
    stand_in = StandIn(args)
    supervisor = web.Application()
    supervisor.router.add_post("/discovery", stand_in.post_discovery)
    supervisor.router.add_get("/services/mqtt", stand_in.get_mqtt)
    front = web.Application()
    front.router.add_get("/_stand_in/discovery", stand_in.get_record)
    front.router.add_route("*", "/api/hassio_ingress/{token}/{path:.*}", stand_in.ingress)
    front.router.add_route("*", "/direct/{path:.*}", stand_in.direct)

    runners = [web.AppRunner(supervisor, access_log=None), web.AppRunner(front, access_log=None)]
    for runner in runners:
        await runner.setup()
    await web.TCPSite(runners[0], SUPERVISOR_IP, 80).start()
    await web.UnixSite(runners[1], args.socket).start()
    print("stand-in Supervisor ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for runner in runners:
        await runner.cleanup()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--socket", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--mqtt", help="JSON of the MQTT service (absent: not enabled)")
    parser.add_argument("--fail-discovery", type=int, default=0,
                        help="answer the first N discovery POSTs with 503")
    parser.add_argument("--app-port", type=int, default=8765)
    asyncio.run(main(parser.parse_args()))
