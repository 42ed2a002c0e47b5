"""Queries for the recordings index (segments on disk) and stream outages.

Invariant kept by callers: a row is inserted only after its file is complete
and renamed into place, and deleted before its file is unlinked, so a crash can
leave an orphan file (re-indexed at start-up) but never a row without a file.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from .db import Store


@dataclass(frozen=True, slots=True)
class SegmentRow:
    id: int
    camera: str
    path: str  # relative to the recordings root
    start_time: float
    end_time: float
    size: int
    motion: bool
    objects: bool
    kept: bool

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> SegmentRow:
        return cls(row["id"], row["camera"], row["path"], row["start_time"], row["end_time"],
                   row["size"], bool(row["motion"]), bool(row["objects"]), bool(row["kept"]))

    def public(self) -> dict[str, Any]:
        return {"start_time": self.start_time, "end_time": self.end_time, "size": self.size,
                "motion": self.motion, "objects": self.objects}


class RecordingIndex:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def add(self, camera: str, path: str, start: float, end: float, size: int,
                  motion: bool, objects: bool, kept: bool) -> None:
        """The recorder's row for a segment it wrote. It wins over a row the periodic
        reconcile may have made for the same file first (it knows motion and kept)."""
        await self.store.write(lambda c: c.execute(
            "INSERT INTO recordings (camera, path, start_time, end_time, size, motion, objects, "
            "kept) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
            "start_time = excluded.start_time, end_time = excluded.end_time, "
            "size = excluded.size, motion = excluded.motion, objects = excluded.objects, "
            "kept = excluded.kept",
            (camera, path, start, end, size, int(motion), int(objects), int(kept))))

    async def add_found(self, rows: list[tuple[str, str, float, float, int]]) -> None:
        """Segments found on disk without a row, as (camera, path, start, end, size);
        a row the recorder wrote meanwhile is left as it is."""
        if rows:
            await self.store.write(lambda c: c.executemany(
                "INSERT INTO recordings (camera, path, start_time, end_time, size) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(path) DO NOTHING", rows))

    async def set_sizes(self, sizes: list[tuple[int, int]]) -> None:
        """(id, size) pairs: sizes measured on disk."""
        if sizes:
            await self.store.write(lambda c: c.executemany(
                "UPDATE recordings SET size = ? WHERE id = ?", [(s, i) for i, s in sizes]))

    async def all_rows(self) -> dict[str, tuple[int, int, str, float, float]]:
        """path -> (id, size, camera, start, end) of every row."""
        def q(c: sqlite3.Connection) -> dict[str, tuple[int, int, str, float, float]]:
            return {r[0]: (r[1], r[2], r[3], r[4], r[5]) for r in c.execute(
                "SELECT path, id, size, camera, start_time, end_time FROM recordings")}

        return await self.store.read(q)

    def add_sync(self, camera: str, path: str, start: float, end: float, size: int) -> None:
        self.store.write_sync(lambda c: c.execute(
            "INSERT INTO recordings (camera, path, start_time, end_time, size) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT(path) DO NOTHING",
            (camera, path, start, end, size)))

    async def overlapping(self, camera: str, start: float, end: float) -> list[SegmentRow]:
        def q(c: sqlite3.Connection) -> list[SegmentRow]:
            rows = c.execute(
                "SELECT * FROM recordings WHERE camera = ? AND end_time > ? AND start_time < ? "
                "ORDER BY start_time", (camera, start, end)).fetchall()
            return [SegmentRow.from_row(r) for r in rows]

        return await self.store.read(q)

    async def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[SegmentRow]:
        def q(c: sqlite3.Connection) -> list[SegmentRow]:
            return [SegmentRow.from_row(r) for r in c.execute(sql, args).fetchall()]

        return await self.store.read(q)

    async def delete(self, ids: list[int]) -> None:
        if not ids:
            return
        await self.store.write(lambda c: c.executemany(
            "DELETE FROM recordings WHERE id = ?", [(i,) for i in ids]))

    async def mark_kept(self, ids: list[int]) -> None:
        if ids:
            await self.store.write(lambda c: c.executemany(
                "UPDATE recordings SET kept = 1 WHERE id = ?", [(i,) for i in ids]))

    def all_paths_sync(self) -> dict[str, int]:
        rows = self.store.read_sync(
            lambda c: c.execute("SELECT path, id FROM recordings").fetchall())
        return {r[0]: r[1] for r in rows}

    def delete_sync(self, ids: list[int]) -> None:
        if ids:
            self.store.write_sync(lambda c: c.executemany(
                "DELETE FROM recordings WHERE id = ?", [(i,) for i in ids]))

    async def usage(self) -> dict[str, dict[str, Any]]:
        def q(c: sqlite3.Connection) -> dict[str, dict[str, Any]]:
            rows = c.execute(
                "SELECT camera, COUNT(*), COALESCE(SUM(size), 0), MIN(start_time), "
                "MAX(end_time) FROM recordings GROUP BY camera").fetchall()
            return {r[0]: {"segments": r[1], "bytes": r[2], "oldest": r[3], "newest": r[4]}
                    for r in rows}

        return await self.store.read(q)

    async def outage_start(self, camera: str, start: float, reason: str) -> None:
        await self.store.write(lambda c: c.execute(
            "INSERT INTO outages (camera, start_time, reason) VALUES (?, ?, ?)",
            (camera, start, reason)))

    async def outage_end(self, camera: str, end: float) -> None:
        await self.store.write(lambda c: c.execute(
            "UPDATE outages SET end_time = ? WHERE camera = ? AND end_time IS NULL",
            (end, camera)))

    async def outages(self, camera: str, since: float, until: float) -> list[dict[str, Any]]:
        def q(c: sqlite3.Connection) -> list[dict[str, Any]]:
            rows = c.execute(
                "SELECT start_time, end_time, reason FROM outages WHERE camera = ? AND "
                "COALESCE(end_time, 1e18) > ? AND start_time < ? ORDER BY start_time",
                (camera, since, until)).fetchall()
            return [{"start_time": r[0], "end_time": r[1], "reason": r[2]} for r in rows]

        return await self.store.read(q)
