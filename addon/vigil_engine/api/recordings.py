"""Recordings you can find and watch: day timeline, HLS playback, hover previews.

``timeline`` is the one command behind both ``GET /api/cameras/{name}/timeline``
and the WebSocket ``recordings/timeline``. Playback URLs are relative to the
playlist, so the bearer token, the UI's session cookie, ingress and Home
Assistant's signed proxy all work the same way. Segments are found by id and
camera in the index and the resolved file must sit inside the recordings root.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..events.snapshots import encode_jpeg
from ..record import playback, timeline
from ..store import timeline as queries
from ..store.recordings import SegmentRow
from .common import ENGINE_KEY, ApiError, camera_or_404, float_param

if TYPE_CHECKING:
    from ..app import Engine

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SEG_RE = re.compile(r"^\d{1,12}$")
PLAYLIST_WINDOW = 3 * 3600.0  # each way around the moment asked for
TIMELINE_PARAMS = {"camera", "date"}


def day_bounds(engine: Engine, day: str | None) -> tuple[str, float, float]:
    """A local calendar day (the engine's time zone) as epoch bounds; DST days are 23/25 h."""
    if day is None:
        today = datetime.now(engine.tz).date()
    else:
        if not isinstance(day, str) or not DATE_RE.match(day):
            raise ApiError(400, "invalid_parameter", "date: must be YYYY-MM-DD")
        try:
            today = date.fromisoformat(day)
        except ValueError:
            raise ApiError(400, "invalid_parameter", f"date: {day!r} is not a date") from None
    midnight = datetime(today.year, today.month, today.day, tzinfo=engine.tz)
    nxt = today + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=engine.tz)
    # Without a configured zone both are naive: the machine's local time.
    return today.isoformat(), midnight.timestamp(), end.timestamp()


async def timeline_command(engine: Engine, params: Mapping[str, Any]) -> dict[str, Any]:
    """Spans, gaps (with reason), activity buckets and events of one camera's local day."""
    unknown = sorted(set(params) - TIMELINE_PARAMS - {"id", "type"})
    if unknown:
        raise ApiError(400, "invalid_parameter",
                       f"{unknown[0]}: unknown parameter (allowed: camera, date)")
    name = camera_or_404(engine, params.get("camera"))
    day, start, end = day_bounds(engine, params.get("date"))
    rows = await queries.day_rows(engine.store, name, start, end)
    cam = engine.config.cameras[name]
    pipeline = engine.pipelines[name]
    recording = bool(pipeline.recorder and pipeline.recorder.writer.enabled)
    now = time.time()
    body = await asyncio.to_thread(timeline.build, rows, start, end, now, cam.record.mode,
                                   recording)
    return {"camera": name, "date": day, "start": start, "end": end, "now": now,
            "tz": str(engine.tz) if engine.tz else None, "recording": recording, **body}


async def days_command(engine: Engine, params: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Local days with footage (newest first): date, bounds and recorded seconds."""
    unknown = sorted(set(params) - {"camera", "days", "id", "type"})
    if unknown:
        raise ApiError(400, "invalid_parameter",
                       f"{unknown[0]}: unknown parameter (allowed: camera, days)")
    name = camera_or_404(engine, params.get("camera"))
    days = params.get("days", 30)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3650:
        raise ApiError(400, "invalid_parameter", "days: must be an integer from 1 to 3650")
    hours = await queries.hours_recorded(engine.store, name, time.time() - days * 86400)
    totals: dict[str, float] = {}
    for hour, seconds in hours:
        # An hour belongs to the local day its middle falls on (half-hour zones).
        local = datetime.fromtimestamp(hour * 3600 + 1800, engine.tz).date().isoformat()
        totals[local] = totals.get(local, 0.0) + seconds
    out = []
    for day in sorted(totals, reverse=True):
        _, start, end = day_bounds(engine, day)
        out.append({"date": day, "start": start, "end": end,
                    "seconds": round(totals[day], 1)})
    return out


async def timeline_view(request: web.Request) -> web.Response:
    engine = request.app[ENGINE_KEY]
    params = {**request.query, "camera": request.match_info["name"]}
    return web.json_response(await timeline_command(engine, params))


def _inside(root: Path, rel: str) -> Path:
    path = (root / rel).resolve()
    if not path.is_relative_to(root.resolve()):
        raise ApiError(404, "no_recording", "no such segment")
    return path


def _camera_at(request: web.Request, param: str) -> tuple[Engine, str, float]:
    engine = request.app[ENGINE_KEY]
    name = camera_or_404(engine, request.match_info["name"])
    at = float_param(request, param)
    if at is None:
        raise ApiError(400, "invalid_parameter", f"{param}: required (epoch seconds)")
    return engine, name, at


async def vod_playlist(request: web.Request) -> web.Response:
    """HLS playlist of the continuous footage around ``start`` (epoch seconds)."""
    engine, name, at = _camera_at(request, "start")
    segs = await queries.run_around(engine.store, name, at, PLAYLIST_WINDOW, PLAYLIST_WINDOW)
    run = playback.continuous_run(segs, at)
    if not run or run[-1].end_time <= at:
        raise ApiError(404, "no_recording",
                       "nothing was recorded at that time or in the 3 hours after it")
    # A run reaching the footage being written now keeps growing: the player reloads it.
    seconds = engine.config.cameras[name].record.segment_seconds
    growing = run[-1] is segs[-1] and run[-1].end_time >= time.time() - 3 * seconds - 5
    text = playback.playlist(run, growing=growing)
    return web.Response(text=text, content_type="application/vnd.apple.mpegurl",
                        headers={"Cache-Control": "no-store",
                                 "X-Vigil-Start": f"{run[0].start_time:.3f}"})


async def _segment(request: web.Request) -> tuple[Engine, SegmentRow, Path]:
    engine = request.app[ENGINE_KEY]
    name = camera_or_404(engine, request.match_info["name"])
    raw = request.match_info["seg"]
    if not SEG_RE.match(raw):
        raise ApiError(404, "no_recording", "no such segment")
    seg = await queries.segment_by_id(engine.store, name, int(raw))
    if seg is None:
        raise ApiError(404, "no_recording", "no such segment (purged?)")
    return engine, seg, _inside(engine.recordings_root, seg.path)


async def vod_segment(request: web.Request) -> web.Response:
    engine, seg, path = await _segment(request)
    base = float_param(request, "base")
    if base is None or not seg.start_time - 86400 <= base <= seg.start_time + 0.01:
        raise ApiError(400, "invalid_parameter", "base: start of the playlist's run")
    with engine.retention.using([seg.path]):
        try:
            data = await asyncio.to_thread(playback.remux_ts, path, seg.start_time, base)
        except FileNotFoundError:
            raise ApiError(404, "no_recording", "the segment was just purged") from None
    return web.Response(body=data, content_type="video/mp2t",
                        headers={"Cache-Control": "private, max-age=3600"})


async def preview(request: web.Request) -> web.Response:
    """A small JPEG of the keyframe at or before ``time`` (hover previews)."""
    engine, name, at = _camera_at(request, "time")
    height = int(float_param(request, "height") or 90)
    if not 32 <= height <= 360:
        raise ApiError(400, "invalid_parameter", "height: must be between 32 and 360")
    seg = await queries.segment_at(engine.store, name, at)
    if seg is None:
        raise ApiError(404, "no_recording", "nothing was recorded at that time")
    cache: playback.PreviewCache = engine.previews
    path = _inside(engine.recordings_root, seg.path)

    def make() -> bytes:
        # Two cache levels: the second asked for (no file access), then the keyframe
        # it shows (nearby moments share one; found by demuxing only).
        near = ("t", seg.id, round(at), height)
        data = cache.get(near)
        if data is not None:
            return data
        t0 = time.thread_time()
        rgb, when = playback.keyframe_preview(
            path, seg.start_time, at, height,
            lambda w: cache.get(("k", seg.id, round(w, 3), height)) is not None)
        key = ("k", seg.id, round(when, 3), height)
        if rgb is not None:
            cache.put(key, encode_jpeg(rgb, (), quality=70))
            cache.made += 1
        cache.cpu_seconds += time.thread_time() - t0
        data = cache.get(key)
        assert data is not None
        cache.put(near, data)
        return data

    try:
        data = await asyncio.to_thread(make)
    except (FileNotFoundError, LookupError):
        raise ApiError(404, "no_recording", "no picture at that time") from None
    return web.Response(body=data, content_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})


def add_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/api/cameras/{name}/timeline", timeline_view)
    r.add_get("/api/cameras/{name}/vod.m3u8", vod_playlist)
    r.add_get("/api/cameras/{name}/vod/{seg}.ts", vod_segment)
    r.add_get("/api/cameras/{name}/preview.jpg", preview)
