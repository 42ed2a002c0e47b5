"""SQL for the Frigate bridge: which Frigate event became which Vigil event, and the
durable clip-download job that rides on the same row (survives restarts and outages)."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from .db import Store


@dataclass(frozen=True)
class FrigateRow:
    server: str
    frigate_id: str
    event_id: str
    camera: str
    frigate_camera: str
    state: str  # open | ended
    clip_status: str  # none | pending | done | gone
    clip_attempts: int
    clip_path: str | None
    described: str | None


def _row(r: sqlite3.Row | None) -> FrigateRow | None:
    if r is None:
        return None
    return FrigateRow(r["server"], r["frigate_id"], r["event_id"], r["camera"],
                      r["frigate_camera"], r["state"], r["clip_status"], r["clip_attempts"],
                      r["clip_path"], r["described"])


class FrigateIndex:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def get(self, server: str, frigate_id: str) -> FrigateRow | None:
        return await self.store.read(lambda c: _row(c.execute(
            "SELECT * FROM frigate_events WHERE server = ? AND frigate_id = ?",
            (server, frigate_id)).fetchone()))

    async def by_event(self, event_id: str) -> FrigateRow | None:
        return await self.store.read(lambda c: _row(c.execute(
            "SELECT * FROM frigate_events WHERE event_id = ?", (event_id,)).fetchone()))

    async def open_event(self, event: dict[str, Any], server: str, frigate_id: str,
                         frigate_camera: str) -> None:
        """The index row and the event row in one transaction: both or neither."""
        from .db import EVENT_COLUMNS

        params = Store._event_params(event)
        cols = ", ".join(EVENT_COLUMNS)
        marks = ", ".join(f":{c}" for c in EVENT_COLUMNS)
        now = time.time()

        def q(c: sqlite3.Connection) -> None:
            c.execute(f"INSERT OR IGNORE INTO events ({cols}) VALUES ({marks})", params)
            c.execute(
                "INSERT OR IGNORE INTO frigate_events (server, frigate_id, event_id, camera, "
                "frigate_camera, state, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, 'open', ?, ?)",
                (server, frigate_id, event["id"], event["camera"], frigate_camera, now, now))

        await self.store.write(q)

    async def mark_ended(self, server: str, frigate_id: str) -> bool:
        """True only for the first ``end``: duplicates find the row already ended."""
        return bool(await self.store.write(lambda c: c.execute(
            "UPDATE frigate_events SET state = 'ended', updated_at = ? WHERE server = ? AND "
            "frigate_id = ? AND state = 'open'", (time.time(), server, frigate_id)).rowcount))

    async def set_clip(self, event_id: str, status: str, *, path: str | None = None,
                       error: str = "", next_attempt: float = 0.0,
                       attempts: int | None = None) -> None:
        def q(c: sqlite3.Connection) -> None:
            c.execute(
                "UPDATE frigate_events SET clip_status = ?, clip_path = COALESCE(?, clip_path), "
                "clip_error = ?, clip_next = ?, clip_attempts = COALESCE(?, clip_attempts), "
                "updated_at = ? WHERE event_id = ?",
                (status, path, error[:300], next_attempt, attempts, time.time(), event_id))

        await self.store.write(q)

    async def due_clips(self, server: str, now: float, limit: int = 4) -> list[FrigateRow]:
        rows = await self.store.read(lambda c: c.execute(
            "SELECT * FROM frigate_events WHERE server = ? AND clip_status = 'pending' AND "
            "clip_next <= ? ORDER BY clip_next LIMIT ?", (server, now, limit)).fetchall())
        return [r for r in map(_row, rows) if r is not None]

    async def open_before(self, server: str, before: float) -> list[FrigateRow]:
        """Events still open that started before ``before`` (Frigate restarted since)."""
        rows = await self.store.read(lambda c: c.execute(
            "SELECT * FROM frigate_events WHERE server = ? AND state = 'open' AND "
            "created_at < ?", (server, before)).fetchall())
        return [r for r in map(_row, rows) if r is not None]

    async def pending_clips(self, server: str) -> int:
        return int(await self.store.read(lambda c: c.execute(
            "SELECT COUNT(*) FROM frigate_events WHERE server = ? AND clip_status = 'pending'",
            (server,)).fetchone()[0]))

    async def set_described(self, event_id: str, text: str) -> None:
        await self.store.write(lambda c: c.execute(
            "UPDATE frigate_events SET described = ?, updated_at = ? WHERE event_id = ?",
            (text, time.time(), event_id)))

    async def cameras(self, server: str) -> list[tuple[str, str]]:
        """(Vigil name, Frigate name) of every camera this server has sent events for."""
        rows = await self.store.read(lambda c: c.execute(
            "SELECT camera, frigate_camera FROM frigate_events WHERE server = ? "
            "GROUP BY camera, frigate_camera", (server,)).fetchall())
        return [(r[0], r[1]) for r in rows]

    async def clips_to_purge(self, older_than: float, limit: int = 200
                             ) -> list[tuple[str, str]]:
        """(event id, clip path) of downloaded clips past retention (protected ones stay)."""
        rows = await self.store.read(lambda c: c.execute(
            "SELECT f.event_id, f.clip_path FROM frigate_events f JOIN events e "
            "ON e.id = f.event_id WHERE f.clip_status = 'done' AND e.protected = 0 AND "
            "e.start_time < ? ORDER BY e.start_time LIMIT ?", (older_than, limit)).fetchall())
        return [(r[0], r[1]) for r in rows]

    async def oldest_clips(self, limit: int = 50) -> list[tuple[str, str]]:
        rows = await self.store.read(lambda c: c.execute(
            "SELECT f.event_id, f.clip_path FROM frigate_events f JOIN events e "
            "ON e.id = f.event_id WHERE f.clip_status = 'done' AND e.protected = 0 "
            "ORDER BY e.start_time LIMIT ?", (limit,)).fetchall())
        return [(r[0], r[1]) for r in rows]
