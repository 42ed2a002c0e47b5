"""Retention and quota: the disk never fills, and nothing needed is lost.

Order of sacrifice when space runs short: cached clips, then footage that
overlaps no event (oldest first), then event footage from low to high risk
(oldest first within a level). Footage of protected events is never purged;
neither is a segment being written (it is not indexed yet) nor one a clip is
being assembled from. Rows are deleted before files, so a crash leaves an
orphan file (re-indexed at start-up), never a row without its file.
"""

from __future__ import annotations

import asyncio
import calendar
import logging
import os
import re
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from ..config import Config, RecordConfig
from ..events.bus import EventBus
from ..store.db import Store
from ..store.recordings import RecordingIndex, SegmentRow

_LOGGER = logging.getLogger(__name__)

DAY = 86400.0
HOLD_SECONDS = 60.0  # events mode: how long a segment waits for an event to claim it
CLIP_CACHE_SECONDS = DAY
PATH_RE = re.compile(
    r"^(?P<cam>[a-z0-9_]+)/(?P<y>\d{4})-(?P<mo>\d{2})-(?P<d>\d{2})/(?P<h>\d{2})/"
    r"(?P<mi>\d{2})\.(?P<s>\d{2})(?:-\d+)?\.mp4$")
RISK_RANK_SQL = ("CASE json_extract(e.risk, '$.risk_level') WHEN 'low' THEN 1 "
                 "WHEN 'medium' THEN 2 WHEN 'high' THEN 3 WHEN 'critical' THEN 4 ELSE 0 END")


@dataclass
class PurgeReport:
    undecided_dropped: int = 0
    aged: int = 0
    quota: int = 0
    clips: int = 0
    freed_bytes: int = 0
    reasons: list[str] = field(default_factory=list)


def start_from_path(rel: str) -> float | None:
    m = PATH_RE.match(rel)
    if not m:
        return None
    g = {k: int(v) for k, v in m.groupdict().items() if k != "cam"}
    return float(calendar.timegm((g["y"], g["mo"], g["d"], g["h"], g["mi"], g["s"], 0, 0, 0)))


def probe_duration(path: Path) -> float | None:
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                return None
            if c.duration:
                return c.duration / 1_000_000
            v = c.streams.video[0]
            last = 0.0
            for p in c.demux(v):
                if p.pts is not None and v.time_base is not None:
                    last = max(last, float(p.pts * v.time_base))
            return last or None
    except (av.error.FFmpegError, OSError):
        return None


class Retention:
    def __init__(self, config: Config, root: Path, clips_root: Path, store: Store,
                 index: RecordingIndex, bus: EventBus,
                 frigate_roots: list[Path] | None = None) -> None:
        self.config = config
        self.root = root
        self.clips_root = clips_root
        self.store = store
        self.index = index
        self.bus = bus
        self.frigate_roots = frigate_roots or []  # clips downloaded from Frigate
        self.in_use: Counter[str] = Counter()
        self.cameras = {n: c for n, c in config.cameras.items() if c.record.enabled}
        self.last_report = PurgeReport()
        self.max_pre = max((c.record.pre_capture for c in self.cameras.values()), default=0.0)
        self.max_post = max((c.record.post_capture for c in self.cameras.values()), default=0.0)

    @contextmanager
    def using(self, paths: list[str]) -> Iterator[None]:
        """Segments a clip is being built from are off limits to purges."""
        self.in_use.update(paths)
        try:
            yield
        finally:
            self.in_use.subtract(paths)
            self.in_use += Counter()  # drop zero counts

    # ------------------------------------------------------------------ start-up

    def reconcile(self) -> dict[str, int]:
        """Make the index and the disk agree (blocking; run before capture starts)."""
        report = {"parts_removed": 0, "orphans_indexed": 0, "orphans_removed": 0,
                  "rows_dropped": 0}
        known = self.index.all_paths_sync()
        seen: set[str] = set()
        if self.root.is_dir():
            for path in sorted(self.root.rglob("*")):
                if not path.is_file():
                    continue
                rel = path.relative_to(self.root).as_posix()
                if path.name.endswith(".part"):
                    path.unlink(missing_ok=True)
                    report["parts_removed"] += 1
                    continue
                if rel in known:
                    seen.add(rel)
                    continue
                start = start_from_path(rel)
                duration = probe_duration(path) if start is not None else None
                if start is None or duration is None:
                    path.unlink(missing_ok=True)
                    report["orphans_removed"] += 1
                    continue
                self.index.add_sync(rel.split("/", 1)[0], rel, start, start + duration,
                                    path.stat().st_size)
                report["orphans_indexed"] += 1
        missing = [i for rel, i in known.items() if rel not in seen]
        self.index.delete_sync(missing)
        report["rows_dropped"] = len(missing)
        if self.clips_root.is_dir():
            for part in self.clips_root.rglob("*.part"):
                part.unlink(missing_ok=True)
        _remove_empty_dirs(self.root)
        if any(report.values()):
            _LOGGER.info("recordings reconciled: %s", report)
        return report

    # ------------------------------------------------------------------ periodic

    async def run(self, interval: float) -> None:
        while True:
            try:
                await self.pass_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("retention pass failed")
            await asyncio.sleep(interval)

    async def pass_once(self, now: float | None = None) -> PurgeReport:
        now = time.time() if now is None else now
        report = PurgeReport()
        spans: list[tuple[str, float, float]] = []
        await self._decide_events_mode(now, report, spans)
        await self._purge_by_age(now, report, spans)
        await self._purge_clip_cache(now, report, force_bytes=0)
        await self._purge_frigate_clips(now, report, need=0)
        await self._purge_by_quota(now, report, spans)
        await self._refresh_has_clip(now, spans)
        self.last_report = report
        if report.freed_bytes:
            _LOGGER.info("retention freed %.1f MB (%d aged, %d for quota, %d undecided, "
                         "%d clips)", report.freed_bytes / 1e6, report.aged, report.quota,
                         report.undecided_dropped, report.clips)
        return report

    def _overlap_sql(self, alias: str = "r") -> str:
        return (f"e.camera = {alias}.camera AND e.start_time - :pre < {alias}.end_time "
                f"AND COALESCE(e.end_time, :now) + :post > {alias}.start_time")

    async def _delete(self, segs: list[SegmentRow], report: PurgeReport,
                      spans: list[tuple[str, float, float]]) -> int:
        segs = [s for s in segs if not self.in_use.get(s.path)]
        if not segs:
            return 0
        await self.index.delete([s.id for s in segs])  # rows first, then files

        def unlink() -> int:
            freed = 0
            for s in segs:
                path = self.root / s.path
                try:
                    freed += path.stat().st_size
                    path.unlink()
                except FileNotFoundError:
                    pass
            return freed

        freed = await asyncio.to_thread(unlink)
        report.freed_bytes += freed
        for s in segs:
            spans.append((s.camera, s.start_time, s.end_time))
        return freed

    async def _decide_events_mode(self, now: float, report: PurgeReport,
                                  spans: list[tuple[str, float, float]]) -> None:
        for name, cam in self.cameras.items():
            if cam.record.mode != "events":
                continue
            hold = max(HOLD_SECONDS, cam.record.pre_capture + 10)
            params = {"cam": name, "cutoff": now - hold, "now": now,
                      "pre": cam.record.pre_capture, "post": cam.record.post_capture}

            def q(c: sqlite3.Connection, params: dict[str, Any] = params
                  ) -> tuple[list[SegmentRow], list[SegmentRow]]:
                rows = c.execute(
                    "SELECT r.*, EXISTS (SELECT 1 FROM events e WHERE "
                    + self._overlap_sql() + ") AS needed FROM recordings r "
                    "WHERE r.camera = :cam AND r.kept = 0 AND r.end_time < :cutoff",
                    params).fetchall()
                keep = [SegmentRow.from_row(r) for r in rows if r["needed"]]
                drop = [SegmentRow.from_row(r) for r in rows if not r["needed"]]
                return keep, drop

            keep, drop = await self.store.read(q)
            await self.index.mark_kept([s.id for s in keep])
            await self._delete(drop, report, spans)
            report.undecided_dropped += len(drop)

    async def _purge_by_age(self, now: float, report: PurgeReport,
                            spans: list[tuple[str, float, float]]) -> None:
        for name, cam in self.cameras.items():
            rec = cam.record
            params = {"cam": name, "cutoff": now - rec.retain_days * DAY, "now": now,
                      "pre": rec.pre_capture, "post": rec.post_capture}

            def q(c: sqlite3.Connection, params: dict[str, Any] = params,
                  rec: Any = rec) -> list[SegmentRow]:
                rows = c.execute(
                    "SELECT r.*, (SELECT MAX(e.protected) FROM events e WHERE "
                    + self._overlap_sql() + ") AS prot, (SELECT MAX(" + RISK_RANK_SQL
                    + ") FROM events e WHERE " + self._overlap_sql() + ") AS rank, "
                    "(SELECT COUNT(*) FROM events e WHERE " + self._overlap_sql()
                    + ") AS n FROM recordings r WHERE r.camera = :cam AND r.kept = 1 "
                    "AND r.end_time < :cutoff ORDER BY r.start_time LIMIT 5000",
                    params).fetchall()
                expired = []
                for r in rows:
                    if r["prot"]:
                        continue
                    days = rec.retain_days
                    if r["n"]:
                        days = max(days, rec.event_retain_days)
                        level = ("", "low", "medium", "high", "critical")[r["rank"] or 0]
                        days = max(days, rec.risk_retain_days.get(level, 0.0))
                    if r["end_time"] < params["now"] - days * DAY:
                        expired.append(SegmentRow.from_row(r))
                return expired

            expired = await self.store.read(q)
            report.aged += len(expired)
            await self._delete(expired, report, spans)

    def disk_usage(self) -> tuple[int, int, int]:
        """(bytes used by footage + clip cache, bytes free on the volume, volume size)."""
        target = self.root if self.root.exists() else self.root.parent
        usage = shutil.disk_usage(target)
        return (_dir_size(self.root) + _dir_size(self.clips_root)
                + sum(_dir_size(r) for r in self.frigate_roots), usage.free, usage.total)

    async def _need_bytes(self) -> int:
        storage = self.config.storage
        if storage.max_size_gb is None and storage.min_free_gb is None:
            return 0
        used, free, _ = await asyncio.to_thread(self.disk_usage)
        need = 0
        if storage.max_size_gb is not None:
            need = max(need, used - int(storage.max_size_gb * 1e9))
        if storage.min_free_gb is not None:
            need = max(need, int(storage.min_free_gb * 1e9) - free)
        return need

    async def _purge_clip_cache(self, now: float, report: PurgeReport, force_bytes: int) -> int:
        def purge() -> tuple[int, int]:
            if not self.clips_root.is_dir():
                return 0, 0
            files = sorted((p for p in self.clips_root.rglob("*.mp4") if p.is_file()),
                           key=lambda p: p.stat().st_mtime)
            freed = count = 0
            for p in files:
                keep_for = 600.0 if ".partial." in p.name else CLIP_CACHE_SECONDS
                old = now - p.stat().st_mtime > keep_for
                if not old and freed >= force_bytes:
                    continue
                size = p.stat().st_size
                p.unlink(missing_ok=True)  # an open download keeps its file handle
                freed += size
                count += 1
            return freed, count

        freed, count = await asyncio.to_thread(purge)
        report.clips += count
        report.freed_bytes += freed
        return freed

    async def _purge_frigate_clips(self, now: float, report: PurgeReport, need: int) -> int:
        """Clips downloaded from Frigate: past event retention, or oldest first for quota."""
        if not self.frigate_roots:
            return 0
        from ..store.frigate import FrigateIndex

        index = FrigateIndex(self.store)
        aged = await index.clips_to_purge(now - RecordConfig().event_retain_days * DAY)
        quota = await index.oldest_clips() if need > 0 else []
        freed = 0
        for event_id, path in [*aged, *(v for v in quota if v not in aged)]:
            if (event_id, path) not in aged and freed >= need:
                break
            freed += await asyncio.to_thread(_unlink_size, Path(path)) if path else 0
            await index.set_clip(event_id, "purged")
            updated = await self.store.set_columns(event_id, has_clip=False)
            if updated is not None:
                updated.pop("updated_at", None)
                self.bus.publish("update", updated)
            report.clips += 1
        report.freed_bytes += freed
        return freed

    async def _purge_by_quota(self, now: float, report: PurgeReport,
                              spans: list[tuple[str, float, float]]) -> None:
        need = await self._need_bytes()
        if need <= 0:
            return
        need = int(need * 1.02) + 1
        need -= await self._purge_clip_cache(now, report, force_bytes=need)
        params = {"now": now, "pre": self.max_pre, "post": self.max_post}
        # Continuous footage first (oldest first), then event footage by risk and age.
        queries = [
            "SELECT r.* FROM recordings r WHERE NOT EXISTS (SELECT 1 FROM events e WHERE "
            + self._overlap_sql() + ") ORDER BY r.start_time LIMIT 500",
            "SELECT r.*, (SELECT MAX(" + RISK_RANK_SQL + ") FROM events e WHERE "
            + self._overlap_sql() + ") AS rank FROM recordings r WHERE EXISTS (SELECT 1 FROM "
            "events e WHERE " + self._overlap_sql() + ") AND NOT EXISTS (SELECT 1 FROM events e "
            "WHERE e.protected = 1 AND " + self._overlap_sql() + ") "
            "ORDER BY rank, r.start_time LIMIT 500",
        ]
        for sql in queries:
            while need > 0:
                rows = await self.index.query(sql, params)  # type: ignore[arg-type]
                rows = [r for r in rows if not self.in_use.get(r.path)]
                if not rows:
                    break
                batch: list[SegmentRow] = []
                total = 0
                for r in rows:
                    batch.append(r)
                    total += r.size
                    if total >= need:
                        break
                freed = await self._delete(batch, report, spans)
                report.quota += len(batch)
                need -= max(freed, total)
            if need <= 0:
                return
        if self.frigate_roots:
            need -= await self._purge_frigate_clips(now, report, need=need)
            if need <= 0:
                return
        report.reasons.append("quota still exceeded: only protected or in-use footage is left")
        _LOGGER.warning("storage limit exceeded but only protected or in-use footage remains")

    async def _refresh_has_clip(self, now: float, spans: list[tuple[str, float, float]]) -> None:
        for name, cam in self.cameras.items():
            rec = cam.record
            lo = min((s for c, s, _ in spans if c == name), default=now)
            hi = max((e for c, _, e in spans if c == name), default=now)
            params = {"cam": name, "now": now, "pre": rec.pre_capture, "post": rec.post_capture,
                      "recent": now - 3 * 3600, "lo": lo - rec.post_capture,
                      "hi": hi + rec.pre_capture}

            def q(c: sqlite3.Connection, params: dict[str, Any] = params) -> list[str]:
                rows = c.execute(
                    "SELECT e.id, e.has_clip, EXISTS (SELECT 1 FROM recordings r WHERE "
                    "r.camera = e.camera AND r.end_time > e.start_time - :pre AND "
                    "r.start_time < COALESCE(e.end_time, :now) + :post) AS clip "
                    "FROM events e WHERE e.camera = :cam AND (e.start_time > :recent OR "
                    "e.end_time IS NULL OR (e.start_time < :hi AND "
                    "COALESCE(e.end_time, :now) > :lo))", params).fetchall()
                changed = [(int(r["clip"]), r["id"]) for r in rows
                           if bool(r["has_clip"]) != bool(r["clip"])]
                c.executemany("UPDATE events SET has_clip = ? WHERE id = ?", changed)
                return [eid for _, eid in changed]

            changed = await self.store.write(q)
            for eid in changed:
                event = await self.store.get_event(eid)
                if event is not None:
                    event.pop("updated_at", None)
                    self.bus.publish("update", event)


def _unlink_size(path: Path) -> int:
    try:
        size = path.stat().st_size
        path.unlink()
        return size
    except FileNotFoundError:
        return 0


def _dir_size(root: Path) -> int:
    total = 0
    if not root.is_dir():
        return 0
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            with suppress(FileNotFoundError):
                total += os.stat(os.path.join(dirpath, f)).st_size
    return total


def _remove_empty_dirs(root: Path) -> None:
    if not root.is_dir():
        return
    for dirpath, _dirs, _files in sorted(os.walk(root), key=lambda x: -len(x[0])):
        p = Path(dirpath)
        if p != root:
            with suppress(OSError):
                p.rmdir()
