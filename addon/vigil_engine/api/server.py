"""The aiohttp application: middlewares (errors, auth, CORS) and routes.

Authentication, in order: ``Authorization: Bearer TOKEN``; the web UI's
session cookie (a server-side session that expires and ends at logout); or,
when running as a Home Assistant app, a request from the Supervisor's ingress
proxy. A cookie alone never authorises a change or a WebSocket from another
origin. Failures from one address are slowed down and then refused for a
while, but a valid token is always accepted: an attacker sharing Home
Assistant's address (NAT, proxy, the Supervisor's network) cannot lock it out.
Names and ids from URLs are checked against strict patterns and looked up
before any path is built from them.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from aiohttp import web

from . import recordings, rest, ui, ws
from .auth import bearer, token_matches
from .common import ENGINE_KEY, ApiError, json_error
from .metrics import metrics
from .sessions import Sessions

if TYPE_CHECKING:
    from ..app import Engine

_LOGGER = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
PUBLIC = ("/", "/index.html", "/api/login")
SESSION_COOKIE = "vigil_session"
FAIL_WINDOW = 300.0
MAX_BODY = 64 * 1024
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


class AuthGuard:
    """Per-address failure counting for brute-force protection: after ``lock / 6``
    failures responses slow down; after ``lock`` the address is refused for a while."""

    def __init__(self, lock: int) -> None:
        self.failures: dict[str, deque[float]] = defaultdict(deque)
        self.lock = lock
        self.free = max(1, lock // 6)

    def locked(self, remote: str) -> bool:
        return self.count(remote) >= self.lock

    async def penalise(self, remote: str) -> None:
        failures = self.fail(remote)
        if failures > self.free:
            await asyncio.sleep(min(0.25 * 2 ** (failures - self.free), 5.0))

    def count(self, remote: str) -> int:
        q = self.failures.get(remote)
        if not q:
            return 0
        now = time.monotonic()
        while q and now - q[0] > FAIL_WINDOW:
            q.popleft()
        return len(q)

    def fail(self, remote: str) -> int:
        self.failures[remote].append(time.monotonic())
        if len(self.failures) > 10_000:  # bounded memory under a spray of addresses
            self.failures.pop(next(iter(self.failures)))
        return self.count(remote)


GUARD_KEY: web.AppKey[AuthGuard] = web.AppKey("guard")
SESSIONS_KEY: web.AppKey[Sessions] = web.AppKey("sessions")

AuthMethod = Literal["bearer", "ingress", "cookie"]


def authenticated(request: web.Request) -> AuthMethod | None:
    """How the request proves who it is, or None."""
    engine = request.app[ENGINE_KEY]
    if token_matches(engine.token, bearer(request.headers.get("Authorization"))):
        return "bearer"
    api = engine.config.api
    if api.ingress and request.remote in api.ingress_proxies \
            and "X-Ingress-Path" in request.headers:
        return "ingress"
    if request.app[SESSIONS_KEY].valid(request.cookies.get(SESSION_COOKIE)):
        return "cookie"
    return None


def same_origin(request: web.Request) -> bool:
    """The browser says the request comes from a page this engine served (or an origin
    the configuration allows). Browsers always send Origin on WebSockets and POSTs."""
    origin = request.headers.get("Origin")
    if not origin:
        return False
    if origin in request.app[ENGINE_KEY].config.api.cors_origins:
        return True
    try:
        return urlsplit(origin).netloc.lower() == request.host.lower()
    except ValueError:
        return False


def refuse_failure(guard: AuthGuard, remote: str) -> web.Response | None:
    """A locked address is answered 429 at once (no token is ever refused for it)."""
    if guard.locked(remote):
        guard.fail(remote)
        return json_error(429, "too_many_failures",
                          "too many failed logins from this address; try again later")
    return None


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as err:
        return json_error(err.status, err.code, err.message)
    except web.HTTPException as err:
        if err.status >= 400:
            if err.status == 413:
                return json_error(413, "body_too_large",
                                  f"body: larger than {MAX_BODY // 1024} KiB")
            return json_error(err.status, err.reason.lower().replace(" ", "_"), err.reason)
        raise
    except (ConnectionResetError, asyncio.CancelledError):
        raise
    except Exception:
        _LOGGER.exception("unhandled error for %s %s", request.method, request.path)
        return json_error(500, "internal_error", "internal error (see engine log)")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path in PUBLIC or request.path.startswith("/ui/") or request.path == "/api/ws":
        return await handler(request)
    how = authenticated(request)
    if how == "cookie" and request.method not in SAFE_METHODS and not same_origin(request):
        return json_error(403, "cross_origin",
                          "Origin: changes with a session cookie must come from the engine's "
                          "own pages")
    if how is not None:
        return await handler(request)
    guard = request.app[GUARD_KEY]
    remote = request.remote or "?"
    locked = refuse_failure(guard, remote)
    if locked is not None:
        return locked
    await guard.penalise(remote)
    return json_error(401, "unauthorized", "missing or wrong bearer token")


@web.middleware
async def cors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Off unless ``api.cors_origins`` lists the caller's origin."""
    origins = request.app[ENGINE_KEY].config.api.cors_origins
    origin = request.headers.get("Origin")
    allowed = origin is not None and origin in origins
    if request.method == "OPTIONS" and allowed:
        resp: web.StreamResponse = web.Response(status=204)
    else:
        resp = await handler(request)
    if allowed and origin is not None:
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Vary"] = "Origin"
        resp.headers["Access-Control-Allow-Headers"] = "Authorization, Content-Type, Range"
        resp.headers["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    return resp


@web.middleware
async def headers_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    resp = await handler(request)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "no-referrer")
    return resp


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """The server's TLS context for ``api.tls`` (TLS 1.2 or newer)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as err:
        raise OSError(f"api.tls: cannot use certificate {cert} with key {key}: {err}") from None
    return ctx


FIRST_REQUEST_TIMEOUT = 10.0


def _close_if_silent(proto: Any) -> None:
    # aiohttp counts a request once its whole head has arrived (fail open if renamed).
    if getattr(proto, "_request_count", 1) == 0:
        transport = proto.transport
        if transport is not None and not transport.is_closing():
            transport.close()


class GuardedRunner(web.AppRunner):
    """Connections must send one complete request head within 10 s: idle or trickling
    (slowloris) sockets are closed instead of being held forever."""

    @property
    def server(self) -> Any:  # the protocol factory the sites listen with
        inner = self._server
        if inner is None:
            return None

        def factory() -> Any:
            proto = inner()
            asyncio.get_running_loop().call_later(FIRST_REQUEST_TIMEOUT, _close_if_silent,
                                                  proto)
            return proto

        return factory


def build_app(engine: Engine) -> web.Application:
    app = web.Application(
        middlewares=[headers_middleware, error_middleware, cors_middleware, auth_middleware],
        client_max_size=MAX_BODY)
    app[ENGINE_KEY] = engine
    app[GUARD_KEY] = AuthGuard(engine.config.api.failed_auth_limit)
    app[SESSIONS_KEY] = Sessions(engine.data_dir / "sessions.json", engine.token)
    rest.add_routes(app)
    recordings.add_routes(app)
    ui.add_routes(app)
    app.router.add_get("/api/ws", ws.handler)
    app.router.add_get("/metrics", metrics)
    return app
