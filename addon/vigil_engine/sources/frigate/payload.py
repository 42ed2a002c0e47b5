"""Frigate's ``<prefix>/events`` messages, checked field by field.

Shape (Frigate's MQTT docs): ``{"type": "new"|"update"|"end", "before": {...},
"after": {...}}`` where each side is a tracked object (id, camera, label, sub_label,
top_score, score, false_positive, start_time, end_time, box, region, area,
current_zones, entered_zones, has_clip, has_snapshot, stationary, ...). Anything
else is refused with a reason that names what was wrong; nothing here raises
anything but BadPayload.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

MAX_PAYLOAD = 256 * 1024  # Frigate's messages are a few KB; refuse anything absurd
TYPES = ("new", "update", "end")


class BadPayload(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason  # metric label: too_large, not_json, not_object, ...
        self.detail = detail


@dataclass(frozen=True)
class FrigateObject:
    id: str
    camera: str
    label: str
    sub_label: str | None
    score: float
    top_score: float
    false_positive: bool
    start_time: float
    end_time: float | None
    frame_time: float | None
    box: list[float] | None
    region: list[float] | None
    area: float | None
    current_zones: tuple[str, ...]
    entered_zones: tuple[str, ...]
    has_clip: bool
    has_snapshot: bool
    stationary: bool

    @property
    def zones(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*self.entered_zones, *self.current_zones)))

    def metadata(self) -> dict[str, Any]:
        """What Vigil keeps of Frigate's view (include_frigate_metadata)."""
        return {"event_id": self.id, "camera": self.camera, "label": self.label,
                "sub_label": self.sub_label, "score": self.score, "top_score": self.top_score,
                "zones": list(self.zones), "entered_zones": list(self.entered_zones),
                "current_zones": list(self.current_zones), "box": self.box,
                "region": self.region, "area": self.area, "has_clip": self.has_clip,
                "has_snapshot": self.has_snapshot, "false_positive": self.false_positive,
                "stationary": self.stationary}


@dataclass(frozen=True)
class FrigateMessage:
    type: str
    after: FrigateObject


def _num(obj: dict[str, Any], key: str, *, required: bool = False) -> float | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise BadPayload("missing_field", f"after.{key} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadPayload("wrong_type", f"after.{key} must be a number, got {value!r:.40}")
    if not math.isfinite(value):
        raise BadPayload("wrong_type", f"after.{key} must be a finite number")
    return float(value)


def _str(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if value is None or value == "":
        raise BadPayload("missing_field", f"after.{key} is missing")
    if not isinstance(value, str):
        raise BadPayload("wrong_type", f"after.{key} must be a string, got {value!r:.40}")
    if len(value) > 200:
        raise BadPayload("wrong_type", f"after.{key} is longer than 200 characters")
    return value


def _zones(obj: dict[str, Any], key: str) -> tuple[str, ...]:
    value = obj.get(key)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(z, str) for z in value):
        raise BadPayload("wrong_type", f"after.{key} must be a list of zone names")
    return tuple(value)


def _bool(obj: dict[str, Any], key: str) -> bool:
    value = obj.get(key, False)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadPayload("wrong_type", f"after.{key} must be true or false")
    return value


def _box(obj: dict[str, Any], key: str) -> list[float] | None:
    value = obj.get(key)
    if value is None:
        return None
    if (not isinstance(value, list) or len(value) != 4 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise BadPayload("wrong_type", f"after.{key} must be four numbers")
    return [float(v) for v in value]


def _sub_label(value: Any) -> str | None:
    # Frigate sends null, a name, or (newer versions) [name, score].
    if isinstance(value, str):
        return value[:100]
    if isinstance(value, list) and value and isinstance(value[0], str):
        return value[0][:100]
    return None


def parse(raw: bytes | bytearray | str) -> FrigateMessage:
    if len(raw) > MAX_PAYLOAD:
        raise BadPayload("too_large", f"{len(raw)} bytes (limit {MAX_PAYLOAD})")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise BadPayload("not_json", f"not JSON ({err})") from None
    if not isinstance(doc, dict):
        raise BadPayload("not_object", f"JSON {type(doc).__name__}, expected an object")
    kind = doc.get("type")
    if kind not in TYPES:
        raise BadPayload("unknown_type", f"type {kind!r:.40} is not new, update or end")
    after = doc.get("after")
    if after is None:
        raise BadPayload("missing_after", "no 'after' object")
    if not isinstance(after, dict):
        raise BadPayload("wrong_type", "'after' must be an object")
    start = _num(after, "start_time", required=True)
    assert start is not None
    score = _num(after, "score") or 0.0
    top = _num(after, "top_score")
    obj = FrigateObject(
        id=_str(after, "id"), camera=_str(after, "camera"), label=_str(after, "label"),
        sub_label=_sub_label(after.get("sub_label")), score=score,
        top_score=top if top is not None else score,
        false_positive=_bool(after, "false_positive"), start_time=start,
        end_time=_num(after, "end_time"), frame_time=_num(after, "frame_time"),
        box=_box(after, "box"), region=_box(after, "region"), area=_num(after, "area"),
        current_zones=_zones(after, "current_zones"),
        entered_zones=_zones(after, "entered_zones"), has_clip=_bool(after, "has_clip"),
        has_snapshot=_bool(after, "has_snapshot"), stationary=_bool(after, "stationary"))
    return FrigateMessage(kind, obj)
