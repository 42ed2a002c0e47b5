"""aiohttp application: REST endpoints from the contract in DESIGN.md.

Every request needs ``Authorization: Bearer TOKEN``; errors are JSON
``{"error": {"code", "message"}}``. Names and ids from URLs are checked against
strict patterns and looked up in the config or the database before any file
path is built from them, so nothing user-supplied reaches the filesystem raw.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .. import __version__
from ..config import ARM_MODES
from ..events.snapshots import encode_jpeg
from ..record.service import ClipError
from ..store.db import CursorError, EventQuery
from .auth import bearer, token_matches

if TYPE_CHECKING:
    from ..app import Engine

_LOGGER = logging.getLogger(__name__)

EVENT_ID_RE = re.compile(r"^\d{10,16}-[0-9a-f]{6}$")
OBJECT_ID_RE = re.compile(r"^[0-9a-f]{8}$")
MAX_LIMIT = 500
EVENT_PARAMS = {"camera", "label", "since", "until", "limit", "cursor", "min_risk"}
LEVEL_FLOOR = {"low": 0, "medium": 30, "high": 60, "critical": 85}
ENGINE_KEY: web.AppKey[Engine] = web.AppKey("engine")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class ApiError(Exception):
    """An HTTP error with a JSON body naming what was wrong."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as err:
        return _error(err.status, err.code, err.message)
    except web.HTTPException as err:
        if err.status >= 400:
            return _error(err.status, err.reason.lower().replace(" ", "_"), err.reason)
        raise
    except Exception:
        _LOGGER.exception("unhandled error for %s %s", request.method, request.path)
        return _error(500, "internal_error", "internal error (see engine log)")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    engine = request.app[ENGINE_KEY]
    if not token_matches(engine.token, bearer(request.headers.get("Authorization"))):
        return _error(401, "unauthorized", "missing or wrong bearer token")
    return await handler(request)


def _float_param(request: web.Request, name: str) -> float | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter",
                       f"{name}: must be a number (epoch seconds)") from None


def _camera(request: web.Request) -> str:
    name = request.match_info["name"]
    if name not in request.app[ENGINE_KEY].pipelines:
        raise ApiError(404, "unknown_camera", f"no camera named {name!r}")
    return name


async def _event_or_404(request: web.Request) -> dict[str, Any]:
    event_id = request.match_info["event_id"]
    event = None
    if EVENT_ID_RE.match(event_id):
        event = await request.app[ENGINE_KEY].store.get_event(event_id)
    if event is None:
        raise ApiError(404, "unknown_event", f"no event with id {event_id!r}")
    return event


def public_event(event: dict[str, Any]) -> dict[str, Any]:
    out = dict(event)
    out.pop("updated_at", None)
    return out


# ---------------------------------------------------------------------- handlers


async def health(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    cams = {name: p.status()["status"] for name, p in engine.pipelines.items()}
    return web.json_response({
        "status": "ok",
        "version": __version__,
        "instance_id": engine.instance_id,
        "uptime": round(time.time() - engine.started, 1),
        "cameras": cams,
        "detector": engine.detector_status(),
        "events": await engine.store.count_events(),
        "storage": await engine.storage_status(),
    })


async def stats(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    return web.json_response({
        "storage": await engine.storage_status(),
        "detector": engine.detector_status(),
        "clips": {"built": engine.clips.built,
                  "build_seconds": round(engine.clips.build_seconds, 3)},
        "cameras": {name: p.status() for name, p in engine.pipelines.items()},
    })


def _clip_response(path: Any, filename: str) -> web.FileResponse:
    # FileResponse answers Range requests (206 with the exact bytes) by itself.
    return web.FileResponse(path, headers={
        "Content-Type": "video/mp4",
        "Content-Disposition": f'inline; filename="{filename}"',
        "Cache-Control": "private, max-age=60",
    })


async def event_clip(request: web.Request) -> web.StreamResponse:
    ev = await _event_or_404(request)
    engine = request.app[ENGINE_KEY]
    camera = engine.config.cameras.get(ev["camera"])
    if camera is None:
        raise ApiError(404, "no_clip", f"camera {ev['camera']!r} is no longer configured")
    try:
        path = await engine.clips.event_clip(camera, ev)
    except ClipError as err:
        raise ApiError(err.status, err.code, err.message) from None
    return _clip_response(path, f"{ev['camera']}-{ev['id']}.mp4")


async def camera_clip(request: web.Request) -> web.StreamResponse:
    name = _camera(request)
    start = _float_param(request, "start")
    end = _float_param(request, "end")
    if start is None or end is None:
        raise ApiError(400, "invalid_parameter",
                       "start: start and end (epoch seconds) are required")
    engine = request.app[ENGINE_KEY]
    try:
        path = await engine.clips.export(engine.config.cameras[name], start, end)
    except ClipError as err:
        raise ApiError(err.status, err.code, err.message) from None
    return _clip_response(path, f"{name}-{int(start)}-{int(end)}.mp4")


async def recordings(request: web.Request) -> web.Response:
    name = _camera(request)
    now = time.time()
    since = _float_param(request, "since")
    until = _float_param(request, "until")
    since = now - 3600 if since is None else since
    until = now if until is None else until
    if until <= since or until - since > 7 * 86400:
        raise ApiError(400, "invalid_parameter", "until: must be after since, at most 7 days")
    engine = request.app[ENGINE_KEY]
    segments = await engine.recording_index.overlapping(name, since, until)
    outages = await engine.recording_index.outages(name, since, until)
    return web.json_response({"camera": name,
                              "segments": [s.public() for s in segments],
                              "outages": outages})


async def protect(request: web.Request) -> web.Response:
    ev = await _event_or_404(request)
    value = True
    if request.can_read_body:
        try:
            body = await request.json()
        except ValueError:
            raise ApiError(400, "invalid_format", "body: not valid JSON") from None
        if not isinstance(body, dict) or not isinstance(body.get("protected", True), bool):
            raise ApiError(400, "invalid_format", "protected: must be true or false")
        value = body.get("protected", True)
    engine = request.app[ENGINE_KEY]
    updated = await engine.store.set_flag(ev["id"], "protected", value)
    if updated is not None:
        engine.bus.publish("update", public_event(updated))
    return web.json_response(public_event(updated or ev))


async def cameras(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    return web.json_response({"cameras": [p.status() for p in engine.pipelines.values()]})


async def camera(request: web.Request) -> web.Response:
    name = _camera(request)
    return web.json_response(request.app[ENGINE_KEY].pipelines[name].status())


async def latest_jpg(request: web.Request) -> web.Response:
    name = _camera(request)
    pipeline = request.app[ENGINE_KEY].pipelines[name]
    frame = pipeline.latest
    if frame is None:
        raise ApiError(404, "no_frame", f"camera {name!r} has not delivered a frame yet")
    height = _float_param(request, "height")
    boxes: tuple[Any, ...] = ()
    if request.query.get("bbox") in ("1", "true"):
        from ..events.snapshots import BoxInFrame

        boxes = tuple(BoxInFrame(t.id, t.label, t.score, t.box)
                      for t in pipeline.tracker.tracks.values() if t.confirmed
                      and t.last_seen >= frame.time - 1.0)
    data = await asyncio.to_thread(encode_jpeg, frame.rgb, boxes,
                                   height=int(height) if height else None)
    return web.Response(body=data, content_type="image/jpeg",
                        headers={"Cache-Control": "no-store",
                                 "X-Frame-Time": f"{frame.time:.3f}"})


async def events(request: web.Request) -> web.Response:
    unknown = sorted(set(request.query) - EVENT_PARAMS)
    if unknown:
        allowed = ", ".join(sorted(EVENT_PARAMS))
        raise ApiError(400, "invalid_parameter",
                       f"{unknown[0]}: unknown parameter (allowed: {allowed})")
    limit_raw = request.query.get("limit", "50")
    try:
        limit = int(limit_raw)
    except ValueError:
        raise ApiError(400, "invalid_parameter", "limit: must be an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, "invalid_parameter", f"limit: must be between 1 and {MAX_LIMIT}")
    min_risk_raw = request.query.get("min_risk")
    min_risk: int | None = None
    if min_risk_raw:
        if min_risk_raw in LEVEL_FLOOR:
            min_risk = LEVEL_FLOOR[min_risk_raw]
        elif min_risk_raw.isdigit() and int(min_risk_raw) <= 100:
            min_risk = int(min_risk_raw)
        else:
            raise ApiError(400, "invalid_parameter",
                           "min_risk: a level (low, medium, high, critical) or a score 0-100")
    query = EventQuery(
        min_risk=min_risk,
        camera=request.query.get("camera") or None,
        label=request.query.get("label") or None,
        since=_float_param(request, "since"),
        until=_float_param(request, "until"),
        limit=limit,
        cursor=request.query.get("cursor") or None,
    )
    try:
        rows, next_cursor = await request.app[ENGINE_KEY].store.list_events(query)
    except CursorError:
        raise ApiError(400, "invalid_parameter",
                       "cursor: not a cursor this engine issued") from None
    return web.json_response({"events": [public_event(e) for e in rows],
                              "next_cursor": next_cursor})


async def event(request: web.Request) -> web.Response:
    return web.json_response(public_event(await _event_or_404(request)))


async def snapshot(request: web.Request) -> web.StreamResponse:
    ev = await _event_or_404(request)
    engine = request.app[ENGINE_KEY]
    bbox = request.query.get("bbox") in ("1", "true")
    object_id = request.query.get("object")
    if object_id is not None:
        if not OBJECT_ID_RE.match(object_id) or object_id not in {
                o["id"] for o in ev["objects"]}:
            raise ApiError(404, "unknown_object", f"event has no object {object_id!r}")
        path = engine.snapshots.object_path(ev["camera"], ev["id"], object_id, bbox=bbox)
    else:
        path = engine.snapshots.event_path(ev["camera"], ev["id"], bbox=bbox)
    if not ev["has_snapshot"] or not path.is_file():
        raise ApiError(404, "no_snapshot", "this event has no snapshot")
    return web.FileResponse(path, headers={"Content-Type": "image/jpeg",
                                           "Cache-Control": "private, max-age=60"})


async def metrics(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    lines = [
        "# HELP vigil_up Engine is running.", "# TYPE vigil_up gauge", "vigil_up 1",
        "# HELP vigil_inference_ms Moving average of one inference.",
        "# TYPE vigil_inference_ms gauge",
        f"vigil_inference_ms {engine.pool.stats.inference_ms:.3f}",
        "# TYPE vigil_inferences_total counter",
        f"vigil_inferences_total {engine.pool.stats.inferences}",
        "# TYPE vigil_camera_online gauge", "# TYPE vigil_camera_fps gauge",
        "# TYPE vigil_camera_detect_fps gauge", "# TYPE vigil_camera_events_total counter",
    ]
    for name, p in engine.pipelines.items():
        st = p.status()
        lbl = f'{{camera="{name}"}}'
        lines += [
            f"vigil_camera_online{lbl} {int(st['status'] == 'online')}",
            f"vigil_camera_fps{lbl} {st['fps']}",
            f"vigil_camera_detect_fps{lbl} {st['detect_fps']}",
            f"vigil_camera_events_total{lbl} {st['stats']['events_opened']}",
        ]
    return web.Response(text="\n".join(lines) + "\n",
                        content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "invalid_format", "body: not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_format", "body: must be a JSON object")
    return body


async def rescore(request: web.Request) -> web.Response:
    ev = await _event_or_404(request)
    job = await request.app[ENGINE_KEY].risk.rescore(ev["id"])
    return web.json_response(job, status=202)


async def get_mode(request: web.Request) -> web.Response:
    return web.json_response({"mode": await request.app[ENGINE_KEY].risk.get_mode(),
                              "modes": list(ARM_MODES)})


async def set_mode(request: web.Request) -> web.Response:
    body = await _json_body(request)
    mode = body.get("mode")
    if mode not in ARM_MODES:
        raise ApiError(400, "invalid_format", f"mode: must be one of {', '.join(ARM_MODES)}")
    await request.app[ENGINE_KEY].risk.set_mode(mode)
    return web.json_response({"mode": mode})


async def risk_status(request: web.Request) -> web.Response:
    return web.json_response(await request.app[ENGINE_KEY].risk.status())


async def risk_jobs(request: web.Request) -> web.Response:
    status = request.query.get("status")
    if status not in (None, "pending", "running", "done", "dead"):
        raise ApiError(400, "invalid_parameter",
                       "status: must be pending, running, done or dead")
    jobs = await request.app[ENGINE_KEY].risk.jobs.list(status)
    return web.json_response({"jobs": jobs})


def build_app(engine: Engine) -> web.Application:
    app = web.Application(middlewares=[error_middleware, auth_middleware],
                          client_max_size=64 * 1024)
    app[ENGINE_KEY] = engine
    app.router.add_get("/api/health", health)
    app.router.add_get("/api/cameras", cameras)
    app.router.add_get("/api/cameras/{name}", camera)
    app.router.add_get("/api/cameras/{name}/latest.jpg", latest_jpg)
    app.router.add_get("/api/events", events)
    app.router.add_get("/api/events/{event_id}", event)
    app.router.add_get("/api/events/{event_id}/snapshot.jpg", snapshot)
    app.router.add_get("/api/events/{event_id}/clip.mp4", event_clip)
    app.router.add_post("/api/events/{event_id}/protect", protect)
    app.router.add_get("/api/cameras/{name}/clip.mp4", camera_clip)
    app.router.add_get("/api/cameras/{name}/recordings", recordings)
    app.router.add_get("/api/stats", stats)
    app.router.add_post("/api/events/{event_id}/rescore", rescore)
    app.router.add_get("/api/mode", get_mode)
    app.router.add_post("/api/mode", set_mode)
    app.router.add_get("/api/risk", risk_status)
    app.router.add_get("/api/risk/jobs", risk_jobs)
    app.router.add_get("/metrics", metrics)
    return app
