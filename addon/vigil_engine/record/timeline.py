"""A camera's day at a glance: recorded spans, gaps with their reason, activity, events.

Pure functions over the rows ``store.timeline.day_rows`` returns, so the shape
is easy to test and the same for REST, WebSocket and the web UI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..store.timeline import SegmentSpan

JOIN_SECONDS = 1.0  # segments closer than this play as one span (no visible gap)
BUCKET_SECONDS = 60


def spans_of(segments: Sequence[SegmentSpan], start: float, end: float
             ) -> list[list[float]]:
    """Merge touching segments into ``[start, end]`` spans clipped to the window."""
    spans: list[list[float]] = []
    for s, e, _m, _o in segments:
        s, e = max(s, start), min(e, end)
        if e <= s:
            continue
        if spans and s - spans[-1][1] <= JOIN_SECONDS:
            spans[-1][1] = max(spans[-1][1], e)
        else:
            spans.append([s, e])
    return spans


def _gap_reason(gs: float, ge: float, outages: list[dict[str, Any]], oldest: float | None,
                mode: str, recording: bool) -> tuple[str, str]:
    hits = [o for o in outages if (o["end"] is None or o["end"] > gs) and o["start"] < ge]
    if hits:
        details = sorted({o["reason"] for o in hits} - {"", "offline"})
        return "outage", "camera offline" + (f": {'; '.join(details)}" if details else "")
    if oldest is None or ge <= oldest + JOIN_SECONDS:
        return "purged" if oldest is not None else "not_recorded", (
            "older than the oldest footage kept" if oldest is not None
            else "nothing recorded yet")
    if mode == "events":
        return "events_only", "recording keeps footage around events only"
    if not recording:
        return "not_recorded", "recording is switched off"
    return "not_recorded", "engine stopped or footage deleted"


def gaps_of(spans: list[list[float]], start: float, end: float,
            outages: list[dict[str, Any]], oldest: float | None, mode: str,
            recording: bool) -> list[dict[str, Any]]:
    """The holes between spans inside ``[start, end)``, each with why it is empty."""
    gaps = []
    cursor = start
    for s, e in [*spans, [end, end]]:
        if s - cursor > JOIN_SECONDS:
            code, detail = _gap_reason(cursor, s, outages, oldest, mode, recording)
            gaps.append({"start": cursor, "end": s, "reason": code, "detail": detail})
        cursor = max(cursor, e)
    return gaps


def activity_of(segments: Sequence[SegmentSpan], start: float, end: float,
                bucket: int = BUCKET_SECONDS) -> dict[str, Any]:
    """Per bucket, the share of time (0-1) covered by segments with motion / objects."""
    n = max(1, int((end - start + bucket - 1) // bucket))
    motion = [0.0] * n
    objects = [0.0] * n
    for s, e, m, o in segments:
        if not (m or o):
            continue
        s, e = max(s, start), min(e, end)
        t = s
        while t < e:
            i = int((t - start) // bucket)
            edge = min(e, start + (i + 1) * bucket)
            if m:
                motion[i] += edge - t
            if o:
                objects[i] += edge - t
            t = edge
    return {"bucket": bucket,
            "motion": [round(min(1.0, v / bucket), 2) for v in motion],
            "objects": [round(min(1.0, v / bucket), 2) for v in objects]}


def build(rows: dict[str, Any], start: float, end: float, now: float, mode: str,
          recording: bool) -> dict[str, Any]:
    """The timeline for ``[start, end)``; the future part of today is neither span nor gap."""
    horizon = min(end, now)
    segs: Sequence[SegmentSpan] = rows["segments"]
    spans = spans_of(segs, start, horizon)
    # The segment being written now is not indexed yet: do not call it a gap.
    tail = horizon
    if horizon == now and spans and now - spans[-1][1] < 120:
        tail = spans[-1][1]
    return {
        "spans": [{"start": s, "end": e} for s, e in spans],
        "gaps": gaps_of(spans, start, tail, rows["outages"], rows["oldest"], mode, recording)
        if start < horizon else [],
        "activity": activity_of(segs, start, end),
        "events": rows["events"],
        "segments": len(segs),
        "recorded_seconds": round(sum(e - s for s, e in spans), 1),
        "oldest": rows["oldest"],
        "newest": rows["newest"],
    }
