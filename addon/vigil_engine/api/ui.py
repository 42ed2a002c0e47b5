"""The web UI: static files, cookie login for browsers, and MJPEG live view.

The UI is plain HTML/JS with relative URLs, so it works at any path prefix
(Home Assistant ingress serves it under ``/api/hassio_ingress/<token>/``).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from aiohttp import web

from .auth import token_matches
from .common import ENGINE_KEY, ApiError, camera_or_404, float_param, json_body

STATIC = Path(__file__).with_name("static")
ASSET_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}\.(js|css|svg|png|ico|webmanifest)$")
TYPES = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml",
         "png": "image/png", "ico": "image/x-icon", "webmanifest": "application/manifest+json"}
MAX_MJPEG = 16
BOUNDARY = "vigilframe"


async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC / "index.html", headers={
        "Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-cache",
        "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
                                   "media-src 'self' blob:; style-src 'self'; "
                                   "script-src 'self'; frame-ancestors 'self'"})


async def asset(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if not ASSET_RE.match(name):
        raise ApiError(404, "not_found", "no such file")
    path = STATIC / name
    if not await asyncio.to_thread(path.is_file):
        raise ApiError(404, "not_found", "no such file")
    return web.FileResponse(path, headers={"Content-Type": TYPES[name.rsplit(".", 1)[1]],
                                           "Cache-Control": "no-cache"})


async def login(request: web.Request) -> web.Response:
    from .server import GUARD_KEY, SESSION_COOKIE, SESSIONS_KEY, refuse_failure

    guard = request.app[GUARD_KEY]
    remote = request.remote or "?"
    body = await json_body(request)
    token = body.get("token")
    engine = request.app[ENGINE_KEY]
    if not isinstance(token, str) or not token_matches(engine.token, token):
        locked = refuse_failure(guard, remote)
        if locked is not None:
            return locked
        await guard.penalise(remote)
        raise ApiError(401, "unauthorized", "token: wrong token")
    sessions = request.app[SESSIONS_KEY]
    value = await asyncio.to_thread(sessions.create)
    resp = web.json_response({"authenticated": True})
    resp.set_cookie(SESSION_COOKIE, value, httponly=True, samesite="Strict",
                    max_age=int(sessions.lifetime), path="/", secure=request.secure)
    return resp


async def logout(request: web.Request) -> web.Response:
    """Ends the session on the server too: a copied cookie stops working."""
    from .server import SESSION_COOKIE, SESSIONS_KEY

    await asyncio.to_thread(request.app[SESSIONS_KEY].revoke,
                            request.cookies.get(SESSION_COOKIE))
    resp = web.json_response({"authenticated": False})
    resp.del_cookie(SESSION_COOKIE, path="/")
    return resp


async def session(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    return web.json_response({"authenticated": True, "instance_id": engine.instance_id,
                              "ingress": "X-Ingress-Path" in request.headers})


async def mjpeg(request: web.Request) -> web.StreamResponse:
    """Live view as multipart JPEG (works in any <img>); a few fps, newest frame only."""
    engine = request.app[ENGINE_KEY]
    name = camera_or_404(engine, request.match_info["name"])
    fps = float_param(request, "fps") or 2.0
    height = float_param(request, "height")
    if not 0.2 <= fps <= 10:
        raise ApiError(400, "invalid_parameter", "fps: must be between 0.2 and 10")
    if height is not None and not 16 <= height <= 2160:
        raise ApiError(400, "invalid_parameter", "height: must be between 16 and 2160")
    if engine.mjpeg_streams >= MAX_MJPEG:
        raise ApiError(503, "busy", "too many live views open")
    from ..events.snapshots import encode_jpeg

    pipeline = engine.pipelines[name]
    resp = web.StreamResponse(headers={
        "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        "Cache-Control": "no-store"})
    await resp.prepare(request)
    engine.mjpeg_streams += 1
    last: float | None = None  # wall time of the picture last sent
    try:
        while True:
            newest = pipeline.newest_at()
            latest = await pipeline.latest_rgb() if newest != last else None
            if latest is not None:
                last, rgb = latest
                jpg = await asyncio.to_thread(encode_jpeg, rgb, (), quality=70,
                                              height=int(height) if height else None)
                await resp.write(f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\n"
                                 f"Content-Length: {len(jpg)}\r\n\r\n".encode() + jpg + b"\r\n")
            await asyncio.sleep(1 / fps)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    finally:
        engine.mjpeg_streams -= 1
    return resp


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", index)
    r.add_get("/index.html", index)
    r.add_get("/ui/{name}", asset)
    r.add_post("/api/login", login)
    r.add_post("/api/logout", logout)
    r.add_get("/api/session", session)
    r.add_get("/api/cameras/{name}/mjpeg", mjpeg)
