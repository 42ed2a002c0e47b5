"""REST handlers (contract in DESIGN.md). Auth is done by the middleware."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from .. import __version__
from ..config import ARM_MODES
from ..events.snapshots import BoxInFrame, encode_jpeg
from ..record.service import ClipError
from ..store.db import CursorError
from .common import (
    ENGINE_KEY,
    OBJECT_ID_RE,
    ApiError,
    any_camera_or_404,
    camera_or_404,
    event_or_404,
    event_query,
    float_param,
    json_body,
    public_event,
)


async def health(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    cams = {s["name"]: s["status"] for s in engine.camera_statuses()}
    return web.json_response({
        "status": "ok",
        "version": __version__,
        "instance_id": engine.instance_id,
        "uptime": round(time.time() - engine.started, 1),
        "cameras": cams,
        "detector": engine.detector_status(),
        "events": await engine.store.count_events(),
        "storage": await engine.storage_status(),
        "frigate": engine.frigate_health(),
    })


async def stats(request: web.Request) -> web.Response:
    return web.json_response(await request.app[ENGINE_KEY].stats())


async def cameras(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    return web.json_response({"cameras": engine.camera_statuses()})


async def camera(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    name = any_camera_or_404(engine, request.match_info["name"])
    return web.json_response(engine.camera_status(name))


async def _frigate_latest(engine: Any, name: str, height: float | None) -> web.Response:
    """A Frigate camera's picture comes from Frigate (``/api/<camera>/latest.jpg``)."""
    from ..sources.frigate.http import FrigateGone, FrigateUnavailable

    bridge, cam = engine.frigate_cameras[name]
    try:
        data = await bridge.http.latest(cam.frigate_name, int(height) if height else None)
    except FrigateGone:
        raise ApiError(404, "no_frame", f"Frigate has no picture of {name!r}") from None
    except FrigateUnavailable:
        raise ApiError(502, "frigate_unavailable",
                       f"Frigate server {bridge.name!r} is not reachable") from None
    return web.Response(body=data, content_type="image/jpeg",
                        headers={"Cache-Control": "no-store"})


async def latest_jpg(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    name = any_camera_or_404(engine, request.match_info["name"])
    height = float_param(request, "height")
    if height is not None and not 16 <= height <= 4320:
        raise ApiError(400, "invalid_parameter", "height: must be between 16 and 4320")
    if name in engine.frigate_cameras:
        return await _frigate_latest(engine, name, height)
    pipeline = engine.pipelines[name]
    no_frame = ApiError(404, "no_frame", f"camera {name!r} has not delivered a frame yet")
    at = pipeline.newest_at()
    if at is None:
        raise no_frame
    bbox = request.query.get("bbox") in ("1", "true")
    # Many viewers (dashboards, the UI grid, HA) ask for the same picture: encode it once.
    key = (at, int(height) if height else None, bbox)
    cached = pipeline.jpeg_cache.get(key)
    if cached is not None:
        data = cached
    else:
        latest = await pipeline.latest_rgb()
        if latest is None:
            raise no_frame
        at, rgb = latest  # may be newer than the one looked up
        key = (at, key[1], bbox)
        boxes: tuple[BoxInFrame, ...] = ()
        if bbox:
            boxes = tuple(BoxInFrame(t.id, t.label, t.score, t.box)
                          for t in pipeline.tracker.tracks.values()
                          if t.confirmed and t.last_seen >= at - 1.0)
        data = await asyncio.to_thread(encode_jpeg, rgb, boxes,
                                       height=int(height) if height else None)
        if any(k[0] != at for k in pipeline.jpeg_cache):
            pipeline.jpeg_cache.clear()
        if len(pipeline.jpeg_cache) < 8:
            pipeline.jpeg_cache[key] = data
    return web.Response(body=data, content_type="image/jpeg",
                        headers={"Cache-Control": "no-store",
                                 "X-Frame-Time": f"{at:.3f}"})


async def events(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    query = event_query(request.query)
    try:
        rows, next_cursor = await engine.store.list_events(query, tz=engine.tz)
    except CursorError:
        raise ApiError(400, "invalid_parameter",
                       "cursor: not a cursor this engine issued") from None
    return web.json_response({"events": [public_event(e) for e in rows],
                              "next_cursor": next_cursor})


async def event(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    return web.json_response(public_event(
        await event_or_404(engine, request.match_info["event_id"])))


async def snapshot(request: web.Request) -> web.StreamResponse:
    engine = request.app[ENGINE_KEY]
    ev = await event_or_404(engine, request.match_info["event_id"])
    bbox = request.query.get("bbox") in ("1", "true")
    object_id = request.query.get("object")
    if object_id is not None:
        if not OBJECT_ID_RE.match(object_id) or object_id not in {
                o["id"] for o in ev["objects"]}:
            raise ApiError(404, "unknown_object", f"event has no object {object_id!r}")
        path = engine.snapshots.object_path(ev["camera"], ev["id"], object_id, bbox=bbox)
    else:
        path = engine.snapshots.event_path(ev["camera"], ev["id"], bbox=bbox)
    if not ev["has_snapshot"] or not await asyncio.to_thread(path.is_file):
        raise ApiError(404, "no_snapshot", "this event has no snapshot")
    return web.FileResponse(path, headers={"Content-Type": "image/jpeg",
                                           "Cache-Control": "private, max-age=60"})


def _clip_response(path: Any, filename: str) -> web.FileResponse:
    # FileResponse answers Range requests (206 with the exact bytes) by itself.
    return web.FileResponse(path, headers={
        "Content-Type": "video/mp4",
        "Content-Disposition": f'inline; filename="{filename}"',
        "Cache-Control": "private, max-age=60",
    })


async def event_clip(request: web.Request) -> web.StreamResponse:
    engine = request.app[ENGINE_KEY]
    ev = await event_or_404(engine, request.match_info["event_id"])
    if ev.get("source") == "frigate":
        return await _frigate_clip(engine, ev)
    camera_cfg = engine.config.cameras.get(ev["camera"])
    if camera_cfg is None:
        raise ApiError(404, "no_clip", f"camera {ev['camera']!r} is no longer configured")
    try:
        path = await engine.clips.event_clip(camera_cfg, ev)
    except ClipError as err:
        raise ApiError(err.status, err.code, err.message) from None
    return _clip_response(path, f"{ev['camera']}-{ev['id']}.mp4")


async def _frigate_clip(engine: Any, ev: dict[str, Any]) -> web.StreamResponse:
    from ..store.frigate import FrigateIndex

    row = await FrigateIndex(engine.store).by_event(ev["id"])
    if row is None or row.clip_status != "done" or not row.clip_path:
        status = row.clip_status if row else "none"
        message = {"pending": "the clip is still being fetched from Frigate",
                   "gone": "Frigate has no clip for this event",
                   "deleted": "the clip was deleted after scoring (retain_clips: false)",
                   "purged": "the clip was removed by retention"}.get(
                       status, "this event has no clip")
        raise ApiError(404, "no_clip", message)
    path = Path(row.clip_path)
    if not await asyncio.to_thread(path.is_file):
        raise ApiError(404, "no_clip", "the clip file is missing")
    return _clip_response(path, f"{ev['camera']}-{ev['id']}.mp4")


async def camera_clip(request: web.Request) -> web.StreamResponse:
    engine = request.app[ENGINE_KEY]
    name = camera_or_404(engine, request.match_info["name"])
    start = float_param(request, "start")
    end = float_param(request, "end")
    if start is None or end is None:
        raise ApiError(400, "invalid_parameter",
                       "start: start and end (epoch seconds) are required")
    try:
        path = await engine.clips.export(engine.config.cameras[name], start, end)
    except ClipError as err:
        raise ApiError(err.status, err.code, err.message) from None
    return _clip_response(path, f"{name}-{int(start)}-{int(end)}.mp4")


async def recordings(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    name = camera_or_404(engine, request.match_info["name"])
    now = time.time()
    since = float_param(request, "since")
    until = float_param(request, "until")
    since = now - 3600 if since is None else since
    until = now if until is None else until
    if until <= since or until - since > 7 * 86400:
        raise ApiError(400, "invalid_parameter", "until: must be after since, at most 7 days")
    segments = await engine.recording_index.overlapping(name, since, until)
    outages = await engine.recording_index.outages(name, since, until)
    return web.json_response({"camera": name,
                              "segments": [s.public() for s in segments],
                              "outages": outages})


async def _flag(request: web.Request, flag: str) -> web.Response:
    engine = request.app[ENGINE_KEY]
    ev = await event_or_404(engine, request.match_info["event_id"])
    value = True
    if request.can_read_body:
        body = await json_body(request)
        value = body.get(flag, True)
        if not isinstance(value, bool):
            raise ApiError(400, "invalid_format", f"{flag}: must be true or false")
    updated = await engine.set_event_flag(ev["id"], flag, value)
    return web.json_response(public_event(updated))


async def protect(request: web.Request) -> web.Response:
    return await _flag(request, "protected")


async def acknowledge(request: web.Request) -> web.Response:
    return await _flag(request, "acknowledged")


async def rescore(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    ev = await event_or_404(engine, request.match_info["event_id"])
    return web.json_response(await engine.risk.rescore(ev["id"]), status=202)


async def get_mode(request: web.Request) -> web.Response:
    return web.json_response({"mode": await request.app[ENGINE_KEY].risk.get_mode(),
                              "modes": list(ARM_MODES)})


async def set_mode(request: web.Request) -> web.Response:
    body = await json_body(request)
    mode = body.get("mode")
    if mode not in ARM_MODES:
        raise ApiError(400, "invalid_format", f"mode: must be one of {', '.join(ARM_MODES)}")
    await request.app[ENGINE_KEY].set_mode(mode)
    return web.json_response({"mode": mode})


async def set_camera(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    name = camera_or_404(engine, request.match_info["name"])
    options = camera_switches(await json_body(request))
    return web.json_response(await engine.set_camera_options(name, options))


def camera_switches(body: dict[str, Any]) -> dict[str, bool]:
    options: dict[str, bool] = {k: body[k] for k in ("detect", "record", "risk") if k in body}
    extra = sorted(set(body) - {"detect", "record", "risk", "camera", "id", "type"})
    if extra:
        raise ApiError(400, "invalid_format",
                       f"{extra[0]}: unknown switch (detect, record, risk)")
    if not options:
        raise ApiError(400, "invalid_format", "detect: give at least one of detect, record, risk")
    for key, value in options.items():
        if not isinstance(value, bool):
            raise ApiError(400, "invalid_format", f"{key}: must be true or false")
    return options


async def risk_status(request: web.Request) -> web.Response:
    return web.json_response(await request.app[ENGINE_KEY].risk.status())


async def risk_jobs(request: web.Request) -> web.Response:
    status = request.query.get("status")
    if status not in (None, "pending", "running", "done", "dead"):
        raise ApiError(400, "invalid_parameter",
                       "status: must be pending, running, done or dead")
    jobs = await request.app[ENGINE_KEY].risk.jobs.list(status)
    return web.json_response({"jobs": jobs})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/health", health)
    r.add_get("/api/stats", stats)
    r.add_get("/api/cameras", cameras)
    r.add_get("/api/cameras/{name}", camera)
    r.add_post("/api/cameras/{name}", set_camera)
    r.add_get("/api/cameras/{name}/latest.jpg", latest_jpg)
    r.add_get("/api/cameras/{name}/clip.mp4", camera_clip)
    r.add_get("/api/cameras/{name}/recordings", recordings)
    r.add_get("/api/events", events)
    r.add_get("/api/events/{event_id}", event)
    r.add_get("/api/events/{event_id}/snapshot.jpg", snapshot)
    r.add_get("/api/events/{event_id}/clip.mp4", event_clip)
    r.add_post("/api/events/{event_id}/protect", protect)
    r.add_post("/api/events/{event_id}/acknowledge", acknowledge)
    r.add_post("/api/events/{event_id}/rescore", rescore)
    r.add_get("/api/mode", get_mode)
    r.add_post("/api/mode", set_mode)
    r.add_get("/api/risk", risk_status)
    r.add_get("/api/risk/jobs", risk_jobs)
