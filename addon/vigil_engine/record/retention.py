"""Retention and quota: the disk never fills, and nothing needed is lost.

Order of sacrifice when space runs short: cached clips, then footage that
overlaps no event (oldest first), then event footage from low to high risk
(oldest first within a level), then closed events themselves with their
snapshots. Footage of protected events is never purged; neither is a segment
being written (it is not indexed yet) nor one a clip is being assembled from.
Rows are deleted before files, so a crash leaves an orphan file (re-indexed at
start-up), never a row without its file.

Everything under the data folder counts toward the quota: footage (summed from
the index, never walked), the database with its WAL, snapshots and clips
(walked each pass; they are few next to the footage). Events, their audit rows and scoring jobs
expire like event footage (per risk level); the database then gives the pages
back to the disk (incremental vacuum).

The index is checked against the disk at start-up and then periodically
(``storage.reconcile_seconds``): files deleted, restored or resized behind the
engine's back would otherwise make the quota count ghosts or miss real bytes.
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
from collections.abc import Collection, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import av

from ..config import Config, RecordConfig
from ..events.bus import EventBus
from ..store import housekeeping as hk
from ..store.db import Store
from ..store.recordings import RecordingIndex, SegmentRow
from .segments import salvage_part

_LOGGER = logging.getLogger(__name__)

DAY = 86400.0
HOLD_SECONDS = 60.0  # events mode: how long a segment waits for an event to claim it
CLIP_CACHE_SECONDS = DAY
AGE_PAGE = 1000
ORPHAN_GRACE = 30.0  # seconds: a file changed more recently may still be arriving (a copy)
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
    events: int = 0
    freed_bytes: int = 0
    reasons: list[str] = field(default_factory=list)


@dataclass
class ReconcileReport:
    """What one periodic reconcile found and did (exposed in /api/stats)."""

    time: float = 0.0  # when it ran (epoch seconds)
    seconds: float = 0.0  # how long it took
    files: int = 0  # segment files seen on disk
    rows_dropped: int = 0  # index rows whose file was gone
    bytes_dropped: int = 0  # what the index counted for them
    orphans_indexed: int = 0  # valid segments found without a row
    bytes_indexed: int = 0
    sizes_fixed: int = 0  # rows whose size differed from the file's
    size_change_bytes: int = 0  # net change of the counted bytes from those fixes
    stray_files: int = 0  # files under recordings/ that are no playable segment (left alone)
    stray_bytes: int = 0  # counted toward the quota all the same
    skipped: int = 0  # too fresh or in use by a clip: looked at again next time

    def changed(self) -> bool:
        return bool(self.rows_dropped or self.orphans_indexed or self.sizes_fixed)


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
        self.data_dir = config.data_dir
        self.snapshots_root = config.data_dir / "snapshots"
        self.footage_bytes = 0  # from the index: refreshed every pass
        self.other_bytes = 0  # snapshots, clips, anything else: counted every pass
        self.in_flight_bytes = 0  # the segments being written: estimated every pass
        self.stray_bytes = 0  # files under recordings/ the index cannot hold: last reconcile
        self.last_reconcile = ReconcileReport()
        self.reconciles = 0  # periodic runs since start
        self.reconcile_totals: Counter[str] = Counter()

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
        report = {"parts_salvaged": 0, "parts_removed": 0, "orphans_indexed": 0,
                  "orphans_removed": 0, "strays_kept": 0, "rows_dropped": 0}
        known = self.index.all_paths_sync()
        seen: set[str] = set()
        stray_bytes = 0
        if self.root.is_dir():
            for path in sorted(self.root.rglob("*")):
                if not path.is_file():
                    continue
                rel = path.relative_to(self.root).as_posix()
                if path.name.endswith(".part"):
                    # A segment cut short by a crash: keep what it holds (fragmented MP4).
                    final = path.with_name(path.name[1:].removesuffix(".part"))
                    final_rel = final.relative_to(self.root).as_posix()
                    start = start_from_path(final_rel)
                    saved = None
                    if start is not None and not final.exists():
                        saved = salvage_part(path, final)
                    path.unlink(missing_ok=True)
                    if saved is None:
                        report["parts_removed"] += 1
                        continue
                    assert start is not None
                    self.index.add_sync(final_rel.split("/", 1)[0], final_rel, start,
                                        start + saved, final.stat().st_size)
                    seen.add(final_rel)
                    report["parts_salvaged"] += 1
                    continue
                if rel in known:
                    seen.add(rel)
                    continue
                start = start_from_path(rel)
                if start is None:
                    # Not named as Vigil names segments: not ours to delete (a user's
                    # file, a restore's leftovers). The quota counts it all the same.
                    report["strays_kept"] += 1
                    stray_bytes += path.stat().st_size
                    continue
                duration = probe_duration(path)
                if duration is None:  # ours, but unplayable (cut off before its header)
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
        # The quota's figures, before the first pass (health checks read them at once).
        self.stray_bytes = stray_bytes
        self.footage_bytes = self.store.read_sync(hk.footage_bytes)
        self.other_bytes = _dir_size(self.data_dir, {self.root, *self._db_files()})
        if any(report.values()):
            _LOGGER.info("recordings reconciled: %s", report)
        return report

    # ------------------------------------------------------------------ periodic

    async def run(self, interval: float) -> None:
        """Retention passes every ``interval`` seconds; a reconcile before the pass when one
        is due (one task: a reconcile never races a purge)."""
        every = self.config.storage.reconcile_seconds
        next_reconcile = time.monotonic() + every
        while True:
            if time.monotonic() >= next_reconcile:
                try:
                    await self.reconcile_live()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    _LOGGER.exception("recordings reconcile failed")
                next_reconcile = time.monotonic() + every
            try:
                await self.pass_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("retention pass failed")
            await asyncio.sleep(interval)

    async def reconcile_live(self, now: float | None = None) -> ReconcileReport:
        """Make the index agree with the disk while recording goes on: drop rows whose
        file is gone, index valid segments that have no row, take sizes from the files.

        Never touches what is being written (hidden ``.part`` files, and files changed in
        the last ``ORPHAN_GRACE`` seconds) nor segments a clip is being built from. Files
        that are no segment are left alone but counted toward the quota."""
        started = time.monotonic()
        now = time.time() if now is None else now
        report = ReconcileReport(time=now)
        rows = await self.index.all_rows()  # before the walk: a row made later is never dropped
        disk, strays = await asyncio.to_thread(_scan_segments, self.root)
        report.files = len(disk)
        report.stray_files = len(strays)
        report.stray_bytes = sum(strays.values())
        spans: list[tuple[str, float, float]] = []

        gone = [rel for rel in rows if rel not in disk and not self.in_use.get(rel)]
        # Looked again one by one: a file the walk missed (renamed meanwhile) stays indexed.
        gone = await asyncio.to_thread(
            lambda: [rel for rel in gone if not (self.root / rel).exists()])
        await self.index.delete([rows[rel][0] for rel in gone])
        for rel in gone:
            _, size, camera, start, end = rows[rel]
            report.bytes_dropped += size
            spans.append((camera, start, end))
        report.rows_dropped = len(gone)

        sizes = []
        for rel, (size, _changed) in disk.items():
            row = rows.get(rel)
            if row is not None and row[1] != size and not self.in_use.get(rel):
                sizes.append((row[0], size))
                report.size_change_bytes += size - row[1]
        await self.index.set_sizes(sizes)
        report.sizes_fixed = len(sizes)

        candidates = []
        for rel, (size, changed) in disk.items():
            if rel in rows:
                continue
            if self.in_use.get(rel) or now - changed < ORPHAN_GRACE:
                report.skipped += 1
                continue
            candidates.append((rel, size))
        found, invalid = await asyncio.to_thread(self._probe_orphans, candidates)
        await self.index.add_found(found)
        for camera, _rel, start, end, size in found:
            report.bytes_indexed += size
            spans.append((camera, start, end))
        report.orphans_indexed = len(found)
        report.stray_files += len(invalid)
        report.stray_bytes += sum(invalid.values())

        self.stray_bytes = report.stray_bytes
        self.footage_bytes = await self.store.read(hk.footage_bytes)
        if spans:
            await self._refresh_has_clip(now, spans)
        report.seconds = round(time.monotonic() - started, 3)
        self.last_reconcile = report
        self.reconciles += 1
        self.reconcile_totals.update(
            {k: v for k, v in (("rows_dropped", report.rows_dropped),
                               ("orphans_indexed", report.orphans_indexed),
                               ("sizes_fixed", report.sizes_fixed)) if v})
        if report.changed():
            _LOGGER.info(
                "recordings reconciled with the disk: %d row(s) without a file dropped "
                "(%.1f MB), %d segment(s) found and indexed (%.1f MB), %d size(s) fixed "
                "(%+.1f MB); %d other file(s) (%.1f MB) counted", report.rows_dropped,
                report.bytes_dropped / 1e6, report.orphans_indexed, report.bytes_indexed / 1e6,
                report.sizes_fixed, report.size_change_bytes / 1e6, report.stray_files,
                report.stray_bytes / 1e6)
        else:
            _LOGGER.debug("recordings reconciled: index and disk agree (%d files)", report.files)
        return report

    def _probe_orphans(self, candidates: list[tuple[str, int]]
                       ) -> tuple[list[tuple[str, str, float, float, int]], dict[str, int]]:
        """(rows to index, {path: size} of files that are no playable segment)."""
        found = []
        invalid: dict[str, int] = {}
        for rel, size in candidates:
            start = start_from_path(rel)
            duration = probe_duration(self.root / rel) if start is not None else None
            if start is None or duration is None:
                invalid[rel] = size
                continue
            found.append((rel.split("/", 1)[0], rel, start, start + duration, size))
        return found, invalid

    async def pass_once(self, now: float | None = None) -> PurgeReport:
        now = time.time() if now is None else now
        report = PurgeReport()
        spans: list[tuple[str, float, float]] = []
        await self._decide_events_mode(now, report, spans)
        await self._purge_by_age(now, report, spans)
        await self._purge_clip_cache(now, report, force_bytes=0)
        await self._purge_frigate_clips(now, report, need=0)
        await self._purge_events_by_age(now, report)
        await self._count()
        await self._purge_by_quota(now, report, spans)
        await self._refresh_has_clip(now, spans)
        await self.store.write(lambda c: hk.incremental_vacuum(c))
        self.last_report = report
        if report.freed_bytes or report.events:
            _LOGGER.info("retention freed %.1f MB (%d aged, %d for quota, %d undecided, "
                         "%d clips, %d events)", report.freed_bytes / 1e6, report.aged,
                         report.quota, report.undecided_dropped, report.clips, report.events)
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
        self.footage_bytes = max(0, self.footage_bytes - sum(s.size for s in segs))
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
        """Expired footage, selected in SQL and paged (keyset), so any number of kept
        rows older than the expired ones never hides them."""
        levels = ("low", "medium", "high", "critical")
        days_sql = ("CASE WHEN n = 0 THEN :retain ELSE MAX(:retain, :event_days, CASE rank "
                    + " ".join(f"WHEN {i + 1} THEN :{lvl}" for i, lvl in enumerate(levels))
                    + " ELSE 0 END) END")
        for name, cam in self.cameras.items():
            rec = cam.record
            params: dict[str, Any] = {
                "cam": name, "cutoff": now - rec.retain_days * DAY, "now": now, "day": DAY,
                "pre": rec.pre_capture, "post": rec.post_capture, "retain": rec.retain_days,
                "event_days": rec.event_retain_days, "limit": AGE_PAGE,
                "after_start": float("-inf"), "after_id": -1,
                **{lvl: rec.risk_retain_days.get(lvl, 0.0) for lvl in levels}}
            sql = (
                "SELECT * FROM (SELECT r.*, (SELECT MAX(e.protected) FROM events e WHERE "
                + self._overlap_sql() + ") AS prot, (SELECT MAX(" + RISK_RANK_SQL
                + ") FROM events e WHERE " + self._overlap_sql() + ") AS rank, "
                "(SELECT COUNT(*) FROM events e WHERE " + self._overlap_sql()
                + ") AS n FROM recordings r WHERE r.camera = :cam AND r.kept = 1 "
                "AND r.end_time < :cutoff AND (r.start_time > :after_start OR "
                "(r.start_time = :after_start AND r.id > :after_id))) "
                "WHERE COALESCE(prot, 0) = 0 AND end_time < :now - (" + days_sql + ") * :day "
                "ORDER BY start_time, id LIMIT :limit")
            while True:
                expired = await self.index.query(sql, params)  # type: ignore[arg-type]
                if not expired:
                    break
                report.aged += len(expired)
                await self._delete(expired, report, spans)
                params["after_start"] = expired[-1].start_time
                params["after_id"] = expired[-1].id
                if len(expired) < AGE_PAGE:
                    break

    async def _purge_events_by_age(self, now: float, report: PurgeReport) -> None:
        """Events (rows, snapshots, audit rows, jobs) expire like their footage would."""
        cameras = await self.store.read(hk.event_cameras)
        for name in cameras:
            cam = self.config.cameras.get(name)
            rec = cam.record if cam is not None else RecordConfig()  # a removed camera

            def expired(c: sqlite3.Connection, name: str = name,
                        rec: RecordConfig = rec) -> list[tuple[str, str]]:
                return hk.expired_event_ids(c, name, rec.event_retain_days,
                                            rec.risk_retain_days, now)

            while True:
                ids = await self.store.read(expired)
                if not ids:
                    break
                await self._delete_events(ids, report)
                if len(ids) < hk.PAGE:
                    break
        await self.store.write(lambda c: hk.purge_finished(c, now))

    async def _delete_events(self, ids: list[tuple[str, str]], report: PurgeReport) -> int:
        """Rows first (one transaction), then snapshot files; returns bytes freed."""
        await self.store.write(lambda c: hk.delete_events(c, [i for _, i in ids]))

        def unlink() -> int:
            freed = 0
            for camera, eid in ids:
                folder = self.snapshots_root / camera
                paths = [folder / f"{eid}.jpg", folder / f"{eid}-bbox.jpg"]
                objects = folder / eid
                if objects.is_dir():
                    paths += list(objects.iterdir())
                for path in paths:
                    with suppress(FileNotFoundError):
                        freed += path.stat().st_size
                        path.unlink()
                with suppress(OSError):
                    objects.rmdir()
            return freed

        freed = await asyncio.to_thread(unlink)
        report.events += len(ids)
        report.freed_bytes += freed
        self.other_bytes = max(0, self.other_bytes - freed)
        return freed

    def _db_files(self) -> list[Path]:
        db = self.store.path
        return [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]

    def disk_usage(self) -> tuple[int, int, int]:
        """(bytes used under the data folder, bytes free on the volume, volume size).
        Cheap: footage from the index, the rest as last counted, the database stat'ed."""
        target = self.data_dir if self.data_dir.exists() else self.data_dir.parent
        usage = shutil.disk_usage(target)
        db = 0
        for path in self._db_files():
            with suppress(FileNotFoundError):
                db += path.stat().st_size
        return (self.footage_bytes + self.other_bytes + self.stray_bytes + db, usage.free,
                usage.total)

    async def _count(self) -> None:
        """Footage from the index (never walked: it is most of the files); the rest
        (snapshots, clips) walked, since events write snapshots all the time."""
        self.footage_bytes = await self.store.read(hk.footage_bytes)
        skip = {self.root, *self._db_files()}

        def walk() -> int:
            outside = [r for r in self.frigate_roots if not r.is_relative_to(self.data_dir)]
            return _dir_size(self.data_dir, skip) + sum(_dir_size(r) for r in outside)

        self.other_bytes = await asyncio.to_thread(walk)
        self.in_flight_bytes = await self.store.read(
            lambda c: hk.segments_in_flight_bytes(c, list(self.cameras), time.time()))

    async def _need_bytes(self) -> int:
        storage = self.config.storage
        if storage.max_size_gb is None and storage.min_free_gb is None:
            return 0
        used, free, _ = await asyncio.to_thread(self.disk_usage)
        need = 0
        # The limit is a ceiling, not a target: room is kept for the segments being
        # written now (not indexed yet), so the disk stays under it between passes.
        ahead = self.in_flight_bytes
        if storage.max_size_gb is not None:
            need = max(need, used + ahead - int(storage.max_size_gb * 1e9))
        if storage.min_free_gb is not None:
            need = max(need, int(storage.min_free_gb * 1e9) + ahead - free)
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
        self.other_bytes = max(0, self.other_bytes - freed)
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
        self.other_bytes = max(0, self.other_bytes - freed)
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
        # Footage alone cannot make room (snapshots and the database count too):
        # closed, unprotected events go next, lowest risk and oldest first.
        while need > 0:
            ids = await self.store.read(hk.oldest_unprotected_events)
            if not ids:
                break
            before = self.disk_usage()[0]
            freed = await self._delete_events(ids, report)
            await self.store.write(lambda c: hk.incremental_vacuum(c, 1 << 30))
            need -= max(freed, before - self.disk_usage()[0], 1)
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


def _dir_size(root: Path, skip: Collection[Path] = ()) -> int:
    """Bytes in files under ``root``, leaving out the paths (files or folders) in ``skip``."""
    total = 0
    if not root.is_dir():
        return 0
    skipped = {str(p) for p in skip}
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if os.path.join(dirpath, d) not in skipped]
        for f in files:
            path = os.path.join(dirpath, f)
            if path in skipped:
                continue
            with suppress(FileNotFoundError):
                total += os.stat(path).st_size
    return total


def _scan_segments(root: Path) -> tuple[dict[str, tuple[int, float]], dict[str, int]]:
    """Walk the recordings folder (blocking): ({path: (size, last change)} of files named
    like segments, {path: size} of other files). Hidden files (a ``.part`` being written,
    a salvage in progress) are never looked at."""
    segments: dict[str, tuple[int, float]] = {}
    others: dict[str, int] = {}
    if not root.is_dir():
        return segments, others
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        rel_dir = os.path.relpath(dirpath, root)
        for name in files:
            if name.startswith("."):
                continue
            try:
                st = os.stat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
            if PATH_RE.match(rel):
                # ctime too: a copy that keeps the old mtime (cp -p) is still being written.
                segments[rel] = (st.st_size, max(st.st_mtime, st.st_ctime))
            else:
                others[rel] = st.st_size
    return segments, others


def _remove_empty_dirs(root: Path) -> None:
    if not root.is_dir():
        return
    for dirpath, _dirs, _files in sorted(os.walk(root), key=lambda x: -len(x[0])):
        p = Path(dirpath)
        if p != root:
            with suppress(OSError):
                p.rmdir()
