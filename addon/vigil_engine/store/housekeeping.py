"""SQL for keeping the database bounded: expired events with their audit rows and jobs,
finished jobs, orphaned audit rows, and reclaiming the freed pages.

An event's row lives as long as footage of its kind would (``record.events.retain``,
per risk level); protected events and open events are never touched. Selections are
done in SQL and paged, so any number of kept rows never hides expired ones.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

DAY = 86400.0
PAGE = 500
FINISHED_JOB_DAYS = 7.0  # done or dead scoring jobs: long enough to inspect a failure
ORPHAN_AUDIT_DAYS = 7.0  # audit rows of "analyze now" runs (no event row)
LEVEL_SQL = "COALESCE(json_extract(risk, '$.risk_level'), '')"


def expired_event_ids(c: sqlite3.Connection, camera: str, event_days: float,
                      risk_days: Mapping[str, float], now: float,
                      limit: int = PAGE) -> list[tuple[str, str]]:
    """(camera, id) of the oldest events of ``camera`` past their retention."""
    days = "MAX(:base, CASE " + LEVEL_SQL + " " + " ".join(
        f"WHEN '{level}' THEN :{level}" for level in ("low", "medium", "high", "critical")
    ) + " ELSE 0 END)"
    params = {"cam": camera, "now": now, "day": DAY, "base": event_days, "limit": limit,
              **{lvl: float(risk_days.get(lvl, 0.0))
                 for lvl in ("low", "medium", "high", "critical")}}
    rows = c.execute(
        "SELECT camera, id FROM events WHERE camera = :cam AND protected = 0 "
        "AND end_time IS NOT NULL AND end_time < :now - :base * :day "
        f"AND end_time < :now - {days} * :day ORDER BY start_time LIMIT :limit",
        params).fetchall()
    return [(r[0], r[1]) for r in rows]


def event_cameras(c: sqlite3.Connection) -> list[str]:
    return [r[0] for r in c.execute("SELECT DISTINCT camera FROM events").fetchall()]


def delete_events(c: sqlite3.Connection, ids: list[str]) -> int:
    """Delete events with their audit rows and scoring jobs (one transaction)."""
    args = [(i,) for i in ids]
    c.executemany("DELETE FROM risk_audit WHERE event_id = ?", args)
    c.executemany("DELETE FROM risk_jobs WHERE event_id = ?", args)
    c.executemany("DELETE FROM events WHERE id = ?", args)
    return len(ids)


def oldest_unprotected_events(c: sqlite3.Connection, limit: int = PAGE
                              ) -> list[tuple[str, str]]:
    """For the quota when footage alone cannot make room: low risk first, oldest first."""
    rank = ("CASE " + LEVEL_SQL + " WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 "
            "WHEN 'critical' THEN 4 ELSE 0 END")
    rows = c.execute(
        f"SELECT camera, id FROM events WHERE protected = 0 AND end_time IS NOT NULL "
        f"ORDER BY {rank}, start_time LIMIT ?", (limit,)).fetchall()
    return [(r[0], r[1]) for r in rows]


def purge_finished(c: sqlite3.Connection, now: float) -> int:
    """Finished scoring jobs and audit rows that belong to no event."""
    n = c.execute("DELETE FROM risk_jobs WHERE status IN ('done', 'dead') AND updated_at < ?",
                  (now - FINISHED_JOB_DAYS * DAY,)).rowcount
    n += c.execute(
        "DELETE FROM risk_audit WHERE created_at < ? AND NOT EXISTS "
        "(SELECT 1 FROM events e WHERE e.id = risk_audit.event_id)",
        (now - ORPHAN_AUDIT_DAYS * DAY,)).rowcount
    return int(n)


def footage_bytes(c: sqlite3.Connection) -> int:
    return int(c.execute("SELECT COALESCE(SUM(size), 0) FROM recordings").fetchone()[0])


def segments_in_flight_bytes(c: sqlite3.Connection, cameras: list[str], now: float,
                             recent: float = 120.0) -> int:
    """What the cameras recording now will have written by the time their current
    segments close: per camera whose newest segment ended in the last ``recent``
    seconds, the largest of its three newest segments."""
    total = 0
    for camera in cameras:
        row = c.execute(
            "SELECT MAX(size), MAX(end_time) FROM (SELECT size, end_time FROM recordings "
            "WHERE camera = ? ORDER BY start_time DESC LIMIT 3)", (camera,)).fetchone()
        if row[1] is not None and row[1] > now - recent:
            total += int(row[0] or 0)
    return total


def incremental_vacuum(c: sqlite3.Connection, pages: int = 4096) -> int:
    """Give up to ``pages`` free pages back to the file system; returns the free pages left."""
    c.execute(f"PRAGMA incremental_vacuum({int(pages)})").fetchall()
    return int(c.execute("PRAGMA freelist_count").fetchone()[0])
