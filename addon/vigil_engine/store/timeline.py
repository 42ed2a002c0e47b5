"""Queries behind the recordings timeline and playback: compact rows, one round trip each.

A day of 10 s segments is 8,640 rows; they are fetched as plain tuples (no row
objects) so a timeline answers in a few milliseconds.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from .db import Store
from .recordings import SegmentRow

SegmentSpan = tuple[float, float, bool, bool]  # start, end, motion, objects


async def day_rows(store: Store, camera: str, start: float, end: float
                   ) -> dict[str, Any]:
    """Segments, outages and events of one camera overlapping ``[start, end)``."""

    def q(c: sqlite3.Connection) -> dict[str, Any]:
        cur = c.cursor()
        cur.row_factory = None  # plain tuples: thousands of rows, no Row objects
        segs: list[SegmentSpan] = cur.execute(
            "SELECT start_time, end_time, motion != 0, objects != 0 FROM recordings "
            "WHERE camera = ? AND start_time < ? AND start_time > ? - 3600 AND end_time > ? "
            "ORDER BY start_time", (camera, end, start, start)).fetchall()
        outages = [{"start": r[0], "end": r[1], "reason": r[2]} for r in c.execute(
            "SELECT start_time, end_time, reason FROM outages WHERE camera = ? AND "
            "COALESCE(end_time, 1e18) > ? AND start_time < ? ORDER BY start_time",
            (camera, start, end))]
        events = []
        for r in c.execute(
                "SELECT id, start_time, end_time, labels, risk, alert FROM events "
                "WHERE camera = ? AND start_time < ? AND COALESCE(end_time, 1e18) > ? "
                "ORDER BY start_time", (camera, end, start)):
            risk = json.loads(r[4]) if r[4] else {}
            events.append({"id": r[0], "start_time": r[1], "end_time": r[2],
                           "labels": json.loads(r[3]), "risk_level": risk.get("risk_level"),
                           "risk_score": risk.get("risk_score"), "summary": risk.get("summary"),
                           "alert": bool(r[5])})
        bounds = c.execute("SELECT MIN(start_time), MAX(end_time) FROM recordings "
                           "WHERE camera = ?", (camera,)).fetchone()
        return {"segments": segs, "outages": outages, "events": events,
                "oldest": bounds[0], "newest": bounds[1]}

    return await store.read(q)


async def run_around(store: Store, camera: str, at: float, before: float, after: float
                     ) -> list[SegmentRow]:
    """Segments of ``camera`` from ``at - before`` to ``at + after`` (for a playlist)."""

    def q(c: sqlite3.Connection) -> list[SegmentRow]:
        rows = c.execute(
            "SELECT * FROM recordings WHERE camera = ? AND start_time < ? AND "
            "start_time > ? - 3600 AND end_time > ? ORDER BY start_time",
            (camera, at + after, at - before, at - before)).fetchall()
        return [SegmentRow.from_row(r) for r in rows]

    return await store.read(q)


async def segment_by_id(store: Store, camera: str, seg_id: int) -> SegmentRow | None:
    def q(c: sqlite3.Connection) -> SegmentRow | None:
        row = c.execute("SELECT * FROM recordings WHERE id = ? AND camera = ?",
                        (seg_id, camera)).fetchone()
        return None if row is None else SegmentRow.from_row(row)

    return await store.read(q)


async def segment_at(store: Store, camera: str, at: float) -> SegmentRow | None:
    """The segment holding ``at``, else the first one starting within 30 s after it."""

    def q(c: sqlite3.Connection) -> SegmentRow | None:
        row = c.execute(
            "SELECT * FROM recordings WHERE camera = ? AND start_time <= ? AND "
            "start_time > ? - 3600 AND end_time > ? ORDER BY start_time DESC LIMIT 1",
            (camera, at, at, at)).fetchone()
        if row is None:
            row = c.execute(
                "SELECT * FROM recordings WHERE camera = ? AND start_time > ? AND "
                "start_time < ? + 30 ORDER BY start_time LIMIT 1", (camera, at, at)).fetchone()
        return None if row is None else SegmentRow.from_row(row)

    return await store.read(q)


async def hours_recorded(store: Store, camera: str, since: float) -> list[tuple[int, float]]:
    """Recorded seconds per UTC hour (hour index = epoch // 3600) since ``since``."""

    def q(c: sqlite3.Connection) -> list[tuple[int, float]]:
        return [(int(r[0]), float(r[1])) for r in c.execute(
            "SELECT CAST(start_time / 3600 AS INTEGER) AS h, SUM(end_time - start_time) "
            "FROM recordings WHERE camera = ? AND start_time >= ? GROUP BY h ORDER BY h",
            (camera, since))]

    return await store.read(q)
