"""Shared by REST and WebSocket: errors, id checks, query parsing, event shape."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from ..store.db import EventQuery

if TYPE_CHECKING:
    from ..app import Engine

EVENT_ID_RE = re.compile(r"^\d{10,16}-[0-9a-f]{6}$")
OBJECT_ID_RE = re.compile(r"^[0-9a-f]{8}$")
MAX_LIMIT = 500
EVENT_PARAMS = {"camera", "label", "since", "until", "limit", "cursor", "min_risk", "q"}
LEVEL_FLOOR = {"low": 0, "medium": 30, "high": 60, "critical": 85}
ENGINE_KEY: web.AppKey[Engine] = web.AppKey("engine")


class ApiError(Exception):
    """An error answered as JSON ``{"error": {"code", "message"}}``; message names the field."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def json_error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def _number(params: Mapping[str, Any], name: str) -> float | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if isinstance(raw, bool):
        raise ApiError(400, "invalid_parameter", f"{name}: must be a number (epoch seconds)")
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise ApiError(400, "invalid_parameter",
                       f"{name}: must be a number (epoch seconds)") from None


def float_param(request: web.Request, name: str) -> float | None:
    return _number(request.query, name)


def event_query(params: Mapping[str, Any], *, default_limit: int = 50) -> EventQuery:
    """Filters for event lists, from a query string or a WebSocket message."""
    unknown = sorted(set(params) - EVENT_PARAMS - {"id", "type"})
    if unknown:
        allowed = ", ".join(sorted(EVENT_PARAMS))
        raise ApiError(400, "invalid_parameter",
                       f"{unknown[0]}: unknown parameter (allowed: {allowed})")
    raw_limit = params.get("limit", default_limit)
    try:
        if isinstance(raw_limit, bool | float):
            raise ValueError
        limit = int(raw_limit)
    except (TypeError, ValueError):
        raise ApiError(400, "invalid_parameter", "limit: must be an integer") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise ApiError(400, "invalid_parameter", f"limit: must be between 1 and {MAX_LIMIT}")
    min_risk_raw = params.get("min_risk")
    min_risk: int | None = None
    if min_risk_raw not in (None, ""):
        text = str(min_risk_raw)
        if text in LEVEL_FLOOR:
            min_risk = LEVEL_FLOOR[text]
        elif text.isdigit() and int(text) <= 100 and not isinstance(min_risk_raw, bool):
            min_risk = int(text)
        else:
            raise ApiError(400, "invalid_parameter",
                           "min_risk: a level (low, medium, high, critical) or a score 0-100")
    strings = {}
    for key in ("camera", "label", "cursor", "q"):
        value = params.get(key)
        if value is not None and not isinstance(value, str):
            raise ApiError(400, "invalid_parameter", f"{key}: must be a string")
        if value is not None and len(value) > 500:
            raise ApiError(400, "invalid_parameter", f"{key}: too long (max 500 characters)")
        strings[key] = value or None
    return EventQuery(camera=strings["camera"], label=strings["label"],
                      since=_number(params, "since"), until=_number(params, "until"),
                      min_risk=min_risk, limit=limit, cursor=strings["cursor"],
                      text=strings["q"])


async def event_or_404(engine: Engine, event_id: Any) -> dict[str, Any]:
    event = None
    if isinstance(event_id, str) and EVENT_ID_RE.match(event_id):
        event = await engine.store.get_event(event_id)
    if event is None:
        raise ApiError(404, "unknown_event", f"no event with id {event_id!r}")
    return event


def camera_or_404(engine: Engine, name: Any) -> str:
    """One of Vigil's own cameras (switches, analysis, recordings)."""
    if isinstance(name, str) and name in engine.frigate_cameras:
        raise ApiError(409, "frigate_camera", f"camera {name!r} is a Frigate camera: "
                       "its detection and recording are set in Frigate")
    if not isinstance(name, str) or name not in engine.pipelines:
        raise ApiError(404, "unknown_camera", f"no camera named {name!r}")
    return name


def any_camera_or_404(engine: Engine, name: Any) -> str:
    """Own cameras and Frigate's (read-only views: status, snapshots, event filters)."""
    if not isinstance(name, str) or (name not in engine.pipelines
                                     and name not in engine.frigate_cameras):
        raise ApiError(404, "unknown_camera", f"no camera named {name!r}")
    return name


def public_event(event: dict[str, Any]) -> dict[str, Any]:
    out = dict(event)
    out.pop("updated_at", None)
    return out


async def json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise ApiError(400, "invalid_format", "body: not valid JSON") from None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_format", "body: must be a JSON object")
    return body
