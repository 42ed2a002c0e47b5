"""The engine's SQLite database.

WAL mode lets readers run while the single writer commits. All writes go
through one dedicated thread (SQLite allows one writer anyway, and this keeps
ordering deterministic); reads use per-thread connections in a small pool.
Nothing here runs on the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from .schema import MIGRATIONS
from .search import parse_search

T = TypeVar("T")
# Given the stored event before and after a change: the escalation to record, or None.
Escalate = Callable[[dict[str, Any] | None, dict[str, Any]], dict[str, Any] | None]
SqlStep = Callable[[sqlite3.Connection], object]

JSON_FIELDS = ("labels", "zones", "objects", "risk", "frigate")
NULLABLE_JSON = ("risk", "frigate")
BOOL_FIELDS = ("has_snapshot", "has_clip", "alert", "acknowledged", "protected")
EVENT_COLUMNS = (
    "id", "camera", "start_time", "end_time", "labels", "zones", "objects", "top_score",
    "has_snapshot", "has_clip", "risk", "alert", "acknowledged", "protected", "updated_at",
    "alert_reason", "source", "frigate", "dismissed",
)


class CursorError(ValueError):
    """A paging cursor that this engine did not hand out."""


@dataclass(frozen=True)
class EventQuery:
    camera: str | None = None
    label: str | None = None
    since: float | None = None
    until: float | None = None
    min_risk: int | None = None
    limit: int = 50
    cursor: str | None = None
    text: str | None = None  # free text, see store/search.py


def encode_cursor(start_time: float, event_id: str) -> str:
    raw = json.dumps([start_time, event_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[float, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        start, eid = json.loads(raw)
        return float(start), str(eid)
    except (ValueError, TypeError) as err:
        raise CursorError("cursor is not valid") from err


def row_to_event(row: sqlite3.Row) -> dict[str, Any]:
    event = dict(row)
    for key in JSON_FIELDS:
        if event.get(key) is not None:
            event[key] = json.loads(event[key])
    for key in BOOL_FIELDS:
        event[key] = bool(event[key])
    if isinstance(event.get("escalation"), str):
        event["escalation"] = json.loads(event["escalation"])
    return event


def _event_row(c: sqlite3.Connection, event_id: str) -> dict[str, Any] | None:
    row = c.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
    return None if row is None else row_to_event(row)


def _write_tracked(c: sqlite3.Connection, event_id: str, change: SqlStep,
                   escalate: Escalate | None) -> tuple[dict[str, Any] | None, bool]:
    """Apply a change to an event row and record its escalation in the same transaction."""
    before = _event_row(c, event_id) if escalate is not None else None
    change(c)
    after = _event_row(c, event_id)
    if escalate is None or after is None:
        return after, False
    esc = escalate(before, after)
    if esc is None:
        return after, False
    c.execute("UPDATE events SET escalation = ? WHERE id = ?", (json.dumps(esc), event_id))
    after["escalation"] = esc
    return after, True


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=30, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    # FULL: every commit is on disk before it returns, so an event announced on the bus
    # survives a power cut (NORMAL may lose the newest commits).
    conn.execute("PRAGMA synchronous=FULL")
    # The WAL counts toward the storage quota: checkpoint often and truncate it after.
    conn.execute("PRAGMA wal_autocheckpoint=256")
    conn.execute("PRAGMA journal_size_limit=1048576")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


def split_statements(script: str) -> list[str]:
    """Split SQL on ';' where a statement is complete (triggers hold ';' inside)."""
    out: list[str] = []
    buf = ""
    for part in script.split(";"):
        buf += part + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                out.append(buf.strip())
            buf = ""
    return out


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema up to date; returns the resulting version."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(MIGRATIONS):
        raise RuntimeError(
            f"database schema v{version} is newer than this engine (v{len(MIGRATIONS)})"
        )
    for number in range(version + 1, len(MIGRATIONS) + 1):
        conn.execute("BEGIN")
        try:
            for statement in split_statements(MIGRATIONS[number - 1]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {number}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return len(MIGRATIONS)


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._writer_conn = _connect(path)
        self._writer_conn.isolation_level = None  # explicit transactions
        if self._writer_conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
            # Incremental: retention hands freed pages back to the disk (one-off rebuild
            # for a database made before this setting).
            self._writer_conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self._writer_conn.execute("VACUUM")
        self.schema_version = migrate(self._writer_conn)
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="store-reader")
        self._local = threading.local()
        self._closed = False

    # ------------------------------------------------------------------ plumbing

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = _connect(self.path)
            self._local.conn = conn
        return conn

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer, self._tx, fn)

    def _tx(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._writer_conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = fn(conn)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return result

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, lambda: fn(self._reader()))

    def write_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """For start-up and tools, before the loop runs."""
        return self._writer.submit(self._tx, fn).result()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._writer.shutdown(wait=True)
        self._readers.shutdown(wait=True)
        self._writer_conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._writer_conn.close()

    # ------------------------------------------------------------------ meta

    def read_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """A blocking read for start-up code and threads (never the writer's connection,
        which belongs to the writer thread)."""
        return self._readers.submit(lambda: fn(self._reader())).result()

    def get_meta(self, key: str) -> str | None:
        row = self.read_sync(lambda c: c.execute(
            "SELECT value FROM meta WHERE key = ?", (key,)).fetchone())
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.write_sync(lambda c: c.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value", (key, value)))

    # ------------------------------------------------------------------ events

    @staticmethod
    def _event_params(event: dict[str, Any]) -> dict[str, Any]:
        params = {k: event.get(k) for k in EVENT_COLUMNS}
        for key in JSON_FIELDS:
            if params[key] is not None or key not in NULLABLE_JSON:
                params[key] = json.dumps(params[key] if params[key] is not None else [])
        for key in BOOL_FIELDS:
            params[key] = int(bool(params[key]))
        params["top_score"] = float(params["top_score"] or 0.0)
        params["alert_reason"] = str(params["alert_reason"] or "")
        params["source"] = str(params["source"] or "vigil")
        params["updated_at"] = time.time()
        return params

    async def upsert_event(self, event: dict[str, Any], *, also: SqlStep | None = None,
                           escalate: Escalate | None = None
                           ) -> tuple[dict[str, Any] | None, bool]:
        """Insert or update an event row; user flags (acknowledged, protected) are kept.

        ``also`` runs in the same transaction (a closing event's scoring job). Returns
        the stored row and whether the change escalated the event."""
        params = self._event_params(event)
        cols = ", ".join(EVENT_COLUMNS)
        marks = ", ".join(f":{c}" for c in EVENT_COLUMNS)
        updates = ", ".join(
            f"{c} = excluded.{c}" for c in EVENT_COLUMNS
            # User flags, risk/alert and has_clip have their own rules or owners.
            if c not in ("id", "camera", "acknowledged", "protected", "risk", "alert",
                         "alert_reason", "has_clip", "dismissed", "has_snapshot")
        )
        # Rules assessments never overwrite an LLM's; an alert once raised stays raised.
        updates += (
            ", risk = CASE WHEN events.risk IS NOT NULL AND "
            "json_extract(events.risk, '$.provider') != 'rules' THEN events.risk "
            "ELSE COALESCE(excluded.risk, events.risk) END"
            ", alert_reason = CASE WHEN events.alert = 1 THEN events.alert_reason "
            "ELSE excluded.alert_reason END"
            ", alert = MAX(events.alert, excluded.alert)"
            ", dismissed = COALESCE(excluded.dismissed, events.dismissed)"
            # A snapshot once written stays (a later flush may not know of it).
            ", has_snapshot = MAX(events.has_snapshot, excluded.has_snapshot)"
        )
        sql = (f"INSERT INTO events ({cols}) VALUES ({marks}) "
               f"ON CONFLICT(id) DO UPDATE SET {updates}")

        def change(c: sqlite3.Connection) -> None:
            c.execute(sql, params)
            if also is not None:
                also(c)

        return await self.write(lambda c: _write_tracked(c, event["id"], change, escalate))

    async def get_event(self, event_id: str) -> dict[str, Any] | None:
        def q(c: sqlite3.Connection) -> dict[str, Any] | None:
            row = c.execute("SELECT * FROM events WHERE id = ?", (event_id,)).fetchone()
            return None if row is None else row_to_event(row)

        return await self.read(q)

    async def list_events(self, query: EventQuery, *, tz: Any = None
                          ) -> tuple[list[dict[str, Any]], str | None]:
        match: str | None = None
        fallback: str | None = None
        if query.text:
            parsed = parse_search(query.text, time.time(), tz)
            match, fallback = parsed.match, parsed.fallback
            query = EventQuery(**{**query.__dict__, "text": None,
                                  "since": query.since if query.since is not None
                                  else parsed.since,
                                  "until": query.until if query.until is not None
                                  else parsed.until})
        rows, cursor = await self._list(query, match)
        if match and not rows and not query.cursor and fallback:
            rows, cursor = await self._list(query, fallback)  # nothing has every word
        return rows, cursor

    async def _list(self, query: EventQuery, match: str | None
                    ) -> tuple[list[dict[str, Any]], str | None]:
        where: list[str] = []
        args: list[Any] = []
        if match:
            where.append("id IN (SELECT event_id FROM events_fts WHERE events_fts MATCH ?)")
            args.append(match)
        if query.camera:
            where.append("camera = ?")
            args.append(query.camera)
        if query.label:
            where.append("EXISTS (SELECT 1 FROM json_each(events.labels) WHERE value = ?)")
            args.append(query.label)
        if query.since is not None:
            where.append("start_time >= ?")
            args.append(query.since)
        if query.until is not None:
            where.append("start_time <= ?")
            args.append(query.until)
        if query.min_risk is not None:
            where.append("COALESCE(json_extract(risk, '$.risk_score'), -1) >= ?")
            args.append(query.min_risk)
        if query.cursor:
            start, eid = decode_cursor(query.cursor)
            where.append("(start_time < ? OR (start_time = ? AND id < ?))")
            args.extend([start, start, eid])
        sql = "SELECT * FROM events"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY start_time DESC, id DESC LIMIT ?"
        args.append(query.limit + 1)

        def q(c: sqlite3.Connection) -> list[dict[str, Any]]:
            return [row_to_event(r) for r in c.execute(sql, args).fetchall()]

        rows = await self.read(q)
        next_cursor = None
        if len(rows) > query.limit:
            rows = rows[: query.limit]
            last = rows[-1]
            next_cursor = encode_cursor(last["start_time"], last["id"])
        return rows, next_cursor

    async def set_risk(self, event_id: str, risk: dict[str, Any], alert: bool,
                       alert_reason: str, *, escalate: Escalate | None = None,
                       intermediate: bool = False) -> tuple[dict[str, Any] | None, bool]:
        """Store an assessment; an alert once raised stays raised (with its first reason).

        An ``intermediate`` assessment never replaces a final (whole-event) LLM one, however
        late it arrives. Returns the stored row and whether the change escalated it."""
        guard = (" AND COALESCE(json_extract(risk, '$.scope'), '') != 'event'"
                 if intermediate else "")

        def change(c: sqlite3.Connection) -> None:
            c.execute(
                "UPDATE events SET risk = ?, updated_at = ?, "
                "alert_reason = CASE WHEN alert = 1 THEN alert_reason ELSE ? END, "
                "alert = MAX(alert, ?) WHERE id = ?" + guard,
                (json.dumps(risk), time.time(), alert_reason, int(alert), event_id))

        return await self.write(lambda c: _write_tracked(c, event_id, change, escalate))

    async def set_flag(self, event_id: str, flag: str, value: bool) -> dict[str, Any] | None:
        """Set a user flag (acknowledged, protected); returns the updated event."""
        if flag not in ("acknowledged", "protected"):
            raise ValueError(flag)
        await self.write(lambda c: c.execute(
            f"UPDATE events SET {flag} = ?, updated_at = ? WHERE id = ?",
            (int(value), time.time(), event_id)))
        return await self.get_event(event_id)

    def close_dangling_events(self, queue_job: Callable[[sqlite3.Connection, str], object]
                              | None = None) -> int:
        """After a crash, events left open are closed at their last update; ``queue_job``
        queues each one's scoring in the same transaction (none is left pending)."""
        def q(c: sqlite3.Connection) -> int:
            ids = [r[0] for r in c.execute("SELECT id FROM events WHERE end_time IS NULL "
                                        # Frigate's events stay open: their ``end`` closes them.
                                        "AND source != 'frigate'")]
            c.execute("UPDATE events SET end_time = MAX(start_time, updated_at) "
                      "WHERE end_time IS NULL AND source != 'frigate'")
            if queue_job is not None:
                for event_id in ids:
                    queue_job(c, event_id)
            return len(ids)

        return self.write_sync(q)

    async def set_columns(self, event_id: str, **values: Any) -> dict[str, Any] | None:
        """Update a few columns of an event (has_snapshot, has_clip, dismissed...)."""
        allowed = {"has_snapshot", "has_clip", "dismissed", "end_time"}
        bad = set(values) - allowed
        if bad:
            raise ValueError(sorted(bad)[0])
        cols = ", ".join(f"{k} = ?" for k in values)
        args = [int(v) if isinstance(v, bool) else v for v in values.values()]
        await self.write(lambda c: c.execute(
            f"UPDATE events SET {cols}, updated_at = ? WHERE id = ?",
            (*args, time.time(), event_id)))
        return await self.get_event(event_id)

    async def count_events(self) -> int:
        return await self.read(
            lambda c: int(c.execute("SELECT COUNT(*) FROM events").fetchone()[0]))
