"""Durable scoring jobs in SQLite: survive restarts and LLM outages.

One row per event. A job is *pending* until due, *running* while a worker
holds it, *done* when an assessment (LLM or fallback) is stored, and *dead*
after ``max_attempts`` failures (the dead-letter list; ``rescore`` revives it).
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from typing import Any

from ..store.db import Store


@dataclass(frozen=True)
class Job:
    event_id: str
    kind: str  # intermediate | final
    attempts: int


def enqueue_sql(c: sqlite3.Connection, event_id: str, kind: str, *,
                reset: bool = False) -> None:
    """Queue (or re-queue) scoring inside the caller's transaction."""
    now = time.time()
    c.execute(
        "INSERT INTO risk_jobs (event_id, kind, status, attempts, next_attempt, "
        "created_at, updated_at) VALUES (?, ?, 'pending', 0, ?, ?, ?) "
        "ON CONFLICT(event_id) DO UPDATE SET kind = excluded.kind, status = 'pending', "
        "next_attempt = MIN(risk_jobs.next_attempt, excluded.next_attempt), "
        "updated_at = excluded.updated_at" + (", attempts = 0, last_error = ''"
                                              if reset else ""),
        (event_id, kind, now, now, now))


def queue_final(c: sqlite3.Connection, event_id: str) -> None:
    """The final scoring of a closed event (also for events closed by crash recovery)."""
    enqueue_sql(c, event_id, "final")


class JobQueue:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def enqueue(self, event_id: str, kind: str, *, reset: bool = False) -> None:
        """Queue (or re-queue) scoring; a final job supersedes an intermediate one."""
        await self.store.write(lambda c: enqueue_sql(c, event_id, kind, reset=reset))

    def recover_sync(self) -> int:
        """Jobs left running by a crash or stop are pending again."""
        return self.store.write_sync(lambda c: c.execute(
            "UPDATE risk_jobs SET status = 'pending' WHERE status = 'running'").rowcount)

    async def claim_due(self, limit: int) -> list[Job]:
        now = time.time()

        def q(c: sqlite3.Connection) -> list[Job]:
            rows = c.execute(
                "SELECT event_id, kind, attempts FROM risk_jobs WHERE status = 'pending' AND "
                "next_attempt <= ? ORDER BY next_attempt LIMIT ?", (now, limit)).fetchall()
            c.executemany("UPDATE risk_jobs SET status = 'running', updated_at = ? "
                          "WHERE event_id = ?", [(now, r[0]) for r in rows])
            return [Job(r[0], r[1], r[2]) for r in rows]

        return await self.store.write(q)

    async def finish(self, job: Job) -> None:
        await self.store.write(lambda c: c.execute(
            "UPDATE risk_jobs SET status = 'done', updated_at = ? WHERE event_id = ? AND "
            "kind = ? AND status = 'running'", (time.time(), job.event_id, job.kind)))

    async def retry(self, job: Job, error: str, delay: float, max_attempts: int) -> str:
        """Count a failure; returns the new status (pending, or dead when out of attempts)."""
        now = time.time()
        attempts = job.attempts + 1
        status = "dead" if attempts >= max_attempts else "pending"
        await self.store.write(lambda c: c.execute(
            "UPDATE risk_jobs SET status = ?, attempts = ?, next_attempt = ?, last_error = ?, "
            "updated_at = ? WHERE event_id = ? AND status = 'running'",
            (status, attempts, now + delay, error[:500], now, job.event_id)))
        return status

    async def release(self, job: Job, delay: float) -> None:
        """Give a claimed job back untouched (e.g. the circuit opened meanwhile)."""
        await self.store.write(lambda c: c.execute(
            "UPDATE risk_jobs SET status = 'pending', next_attempt = ? WHERE event_id = ? "
            "AND status = 'running'", (time.time() + delay, job.event_id)))

    async def counts(self) -> dict[str, int]:
        rows = await self.store.read(lambda c: c.execute(
            "SELECT status, COUNT(*) FROM risk_jobs GROUP BY status").fetchall())
        return {r[0]: r[1] for r in rows}

    async def list(self, status: str | None, limit: int = 100) -> list[dict[str, Any]]:
        def q(c: sqlite3.Connection) -> list[dict[str, Any]]:
            sql = "SELECT * FROM risk_jobs"
            args: list[Any] = []
            if status:
                sql += " WHERE status = ?"
                args.append(status)
            sql += " ORDER BY updated_at DESC LIMIT ?"
            args.append(limit)
            return [dict(r) for r in c.execute(sql, args).fetchall()]

        return await self.store.read(q)

    async def get(self, event_id: str) -> dict[str, Any] | None:
        row = await self.store.read(lambda c: c.execute(
            "SELECT * FROM risk_jobs WHERE event_id = ?", (event_id,)).fetchone())
        return None if row is None else dict(row)
