"""Retention, quota and start-up reconciliation on real SQLite files and real MP4 segments."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from vigil_engine.config import Config, parse_config
from vigil_engine.events.bus import EventBus
from vigil_engine.record.retention import DAY, ORPHAN_GRACE, Retention, start_from_path
from vigil_engine.record.segments import segment_relpath
from vigil_engine.store.db import Store
from vigil_engine.store.recordings import RecordingIndex


@pytest.fixture(scope="module")
def segment_file(tmp_path_factory: pytest.TempPathFactory, footage_mp4: Path) -> Path:
    """A real 4 s H.264 MP4 segment cut from the footage without re-encoding."""
    out = tmp_path_factory.mktemp("seg") / "seg.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(footage_mp4), "-t", "4",
                    "-c", "copy", str(out)], check=True)
    return out


def make_config(tmp: Path, **record: Any) -> Config:
    storage = record.pop("storage", {})
    return parse_config({
        "data_dir": str(tmp / "data"),
        "storage": storage,
        "cameras": {"yard": {
            "inputs": [{"url": "rtsp://127.0.0.1:1/main", "roles": ["detect", "record"]}],
            "record": {"enabled": True, "pre_capture": 2, "post_capture": 2, **record},
        }},
    })


class Rig:
    def __init__(self, tmp: Path, config: Config, segment: Path) -> None:
        self.root = tmp / "data" / "recordings"
        self.clips = tmp / "data" / "clips"
        self.db = tmp / "data" / "vigil.db"
        self.store = Store(self.db)
        self.index = RecordingIndex(self.store)
        self.retention = Retention(config, self.root, self.clips, self.store, self.index,
                                   EventBus())
        self.segment = segment
        self.size = segment.stat().st_size

    def add_segment(self, start: float, *, kept: bool = True) -> str:
        rel = segment_relpath("yard", start)
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(self.segment, path)
        asyncio.run(self.index.add("yard", rel, start, start + 4, self.size, True, True, kept))
        return rel

    def add_event(self, eid: str, start: float, *, risk: str | None = None,
                  protected: bool = False) -> None:
        event = {"id": eid, "camera": "yard", "start_time": start, "end_time": start + 2,
                 "labels": ["person"], "zones": [], "objects": [], "protected": protected,
                 "risk": {"risk_level": risk, "risk_score": 50} if risk else None}
        asyncio.run(self.store.upsert_event(event))

    def paths(self) -> set[str]:
        with sqlite3.connect(self.db) as c:
            return {r[0] for r in c.execute("SELECT path FROM recordings")}

    def has_clip(self, eid: str) -> bool:
        with sqlite3.connect(self.db) as c:
            return bool(c.execute("SELECT has_clip FROM events WHERE id = ?", (eid,)).fetchone()[0])

    def close(self) -> None:
        self.store.close()


def test_quota_purges_continuous_first_then_event_footage_low_risk_first(
        tmp_path: Path, segment_file: Path) -> None:
    size = segment_file.stat().st_size
    base = time.time() - 3 * DAY
    n = 12
    # Keep room for 2.5 segments of the 12: 9.5 must go.
    rig = Rig(tmp_path, make_config(tmp_path, retain={"days": 30}), segment_file)
    try:
        segs = [rig.add_segment(base + i * 60) for i in range(n)]
        rig.add_event("e-low", base + 6 * 60 + 1, risk="low")
        rig.add_event("e-crit", base + 7 * 60 + 1, risk="critical")
        rig.add_event("e-high", base + 8 * 60 + 1, risk="high")
        rig.add_event("e-prot", base + 10 * 60 + 1, risk="low", protected=True)
        # The database counts toward the quota too: leave it room of its own.
        db = sum(p.stat().st_size for p in rig.db.parent.glob("vigil.db*"))
        config = make_config(tmp_path, retain={"days": 30},
                             storage={"max_size_gb": ((n - 9.5) * size + db) / 1e9})
        rig.retention = Retention(config, rig.root, rig.clips, rig.store, rig.index, EventBus())
        report = asyncio.run(rig.retention.pass_once())
        left = rig.paths()
        assert left == {segs[7], segs[10]}  # critical and protected footage survive
        assert {p.relative_to(rig.root).as_posix() for p in rig.root.rglob("*.mp4")} == left
        assert report.quota == 10 and report.freed_bytes >= 10 * size
        used, _, _ = rig.retention.disk_usage()
        assert used <= config.storage.max_size_gb * 1e9  # type: ignore[operator]
        assert not rig.has_clip("e-low") and rig.has_clip("e-crit") and rig.has_clip("e-prot")
    finally:
        rig.close()


def test_quota_keeps_room_for_the_segment_being_written(tmp_path: Path,
                                                       segment_file: Path) -> None:
    """A camera recording right now writes a segment the index does not know yet: the
    pass leaves room for it, so the disk stays under the limit until the next pass."""
    size = segment_file.stat().st_size
    rig = Rig(tmp_path, make_config(tmp_path, retain={"days": 30}), segment_file)
    try:
        now = time.time()
        segs = [rig.add_segment(now - 4 * (8 - i)) for i in range(8)]  # newest ended now
        db = sum(p.stat().st_size for p in rig.db.parent.glob("vigil.db*"))
        limit = 5.5 * size + db
        config = make_config(tmp_path, retain={"days": 30},
                             storage={"max_size_gb": limit / 1e9})
        rig.retention = Retention(config, rig.root, rig.clips, rig.store, rig.index, EventBus())
        asyncio.run(rig.retention.pass_once())
        left = rig.paths()
        assert left == set(segs[-4:])  # 4 kept + the one being written = 5 segments <= 5.5
        # The part file the recorder is filling now fits under the limit too.
        used, _, _ = rig.retention.disk_usage()
        assert used + size <= limit
    finally:
        rig.close()


def test_protected_footage_is_never_purged_even_over_quota(tmp_path: Path,
                                                           segment_file: Path) -> None:
    config = make_config(tmp_path, storage={"max_size_gb": 1e-9})
    rig = Rig(tmp_path, config, segment_file)
    try:
        base = time.time() - DAY
        kept = rig.add_segment(base)
        rig.add_segment(base + 60)
        rig.add_event("e-prot", base + 1, protected=True)
        report = asyncio.run(rig.retention.pass_once())
        assert rig.paths() == {kept} and (rig.root / kept).is_file()
        assert report.reasons  # says why the limit could not be met
    finally:
        rig.close()


def test_age_retention_by_footage_kind_and_risk(tmp_path: Path, segment_file: Path) -> None:
    config = make_config(tmp_path, retain={"days": 1},
                         events={"retain": {"days": 2, "risk": {"critical": 5}}})
    rig = Rig(tmp_path, config, segment_file)
    now = time.time()
    try:
        fresh = rig.add_segment(now - 0.5 * DAY)
        plain_old = rig.add_segment(now - 1.5 * DAY)
        event_young = rig.add_segment(now - 1.5 * DAY + 600)
        rig.add_event("e1", now - 1.5 * DAY + 601, risk="low")
        event_old = rig.add_segment(now - 3 * DAY)
        rig.add_event("e2", now - 3 * DAY + 1, risk="low")
        critical = rig.add_segment(now - 3 * DAY + 600)
        rig.add_event("e3", now - 3 * DAY + 601, risk="critical")
        critical_old = rig.add_segment(now - 6 * DAY)
        rig.add_event("e4", now - 6 * DAY + 1, risk="critical")
        protected = rig.add_segment(now - 10 * DAY)
        rig.add_event("e5", now - 10 * DAY + 1, protected=True)
        report = asyncio.run(rig.retention.pass_once())
        assert rig.paths() == {fresh, event_young, critical, protected}
        assert report.aged == 3
        for gone in (plain_old, event_old, critical_old):
            assert not (rig.root / gone).exists()
    finally:
        rig.close()


def test_events_mode_keeps_event_footage_and_holds_recent_segments(
        tmp_path: Path, segment_file: Path) -> None:
    config = make_config(tmp_path, mode="events")
    rig = Rig(tmp_path, config, segment_file)
    now = time.time()
    try:
        before = rig.add_segment(now - 300, kept=False)  # needed for the 2 s pre-capture
        during = rig.add_segment(now - 296, kept=False)
        quiet = rig.add_segment(now - 200, kept=False)
        recent = rig.add_segment(now - 30, kept=False)  # too new to decide
        rig.add_event("e1", now - 295)
        report = asyncio.run(rig.retention.pass_once())
        assert rig.paths() == {before, during, recent}
        assert report.undecided_dropped == 1 and not (rig.root / quiet).exists()
        with sqlite3.connect(rig.db) as c:
            kept = dict(c.execute("SELECT path, kept FROM recordings").fetchall())
        assert kept == {before: 1, during: 1, recent: 0}
    finally:
        rig.close()


def test_segments_in_use_by_a_clip_are_not_purged(tmp_path: Path, segment_file: Path) -> None:
    config = make_config(tmp_path, storage={"max_size_gb": 1e-9})
    rig = Rig(tmp_path, config, segment_file)
    try:
        base = time.time() - DAY
        busy = rig.add_segment(base)
        rig.add_segment(base + 60)
        with rig.retention.using([busy]):
            asyncio.run(rig.retention.pass_once())
            assert rig.paths() == {busy}
        asyncio.run(rig.retention.pass_once())
        assert rig.paths() == set()
    finally:
        rig.close()


def test_reconcile_makes_index_and_disk_agree(tmp_path: Path, segment_file: Path) -> None:
    config = make_config(tmp_path)
    rig = Rig(tmp_path, config, segment_file)
    try:
        base = float(int(time.time()) - 3600)
        indexed = rig.add_segment(base)
        missing = rig.add_segment(base + 60)
        (rig.root / missing).unlink()  # row without file
        orphan_rel = segment_relpath("yard", base + 120)
        (rig.root / orphan_rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(segment_file, rig.root / orphan_rel)  # file without row (crash after rename)
        garbage_rel = segment_relpath("yard", base + 180)
        # Each in its own hour's folder: the minutes after base may cross into the next hour.
        (rig.root / garbage_rel).parent.mkdir(parents=True, exist_ok=True)
        (rig.root / garbage_rel).write_bytes(b"not an mp4")
        part = rig.root / Path(segment_relpath("yard", base + 240)).with_name(".xx.mp4.part")
        part.parent.mkdir(parents=True, exist_ok=True)
        part.write_bytes(b"half a segment")
        (rig.root / "yard" / "notes.txt").write_text("the owner's own file")  # not ours
        report = rig.retention.reconcile()
        assert report == {"parts_salvaged": 0, "parts_removed": 1, "orphans_indexed": 1,
                          "orphans_removed": 1, "strays_kept": 1,
                          "rows_dropped": 1}
        assert rig.paths() == {indexed, orphan_rel}
        files = {p.relative_to(rig.root).as_posix() for p in rig.root.rglob("*") if p.is_file()}
        assert files == {indexed, orphan_rel, "yard/notes.txt"}
        with sqlite3.connect(rig.db) as c:
            start, end = c.execute("SELECT start_time, end_time FROM recordings WHERE path = ?",
                                   (orphan_rel,)).fetchone()
        assert start == start_from_path(orphan_rel) == base + 120
        assert end - start == pytest.approx(4.0, abs=0.5)
    finally:
        rig.close()


def test_live_reconcile_leaves_what_is_being_written_alone(tmp_path: Path,
                                                           segment_file: Path) -> None:
    """The periodic reconcile (engine running): rows of vanished files dropped, restored
    segments indexed once they stop changing, sizes taken from the files; never the
    ``.part`` being written, a segment a clip is built from, or a file still arriving."""
    rig = Rig(tmp_path, make_config(tmp_path), segment_file)
    try:
        base = float(int(time.time()) - 3600)
        kept = rig.add_segment(base)
        gone = rig.add_segment(base + 10)
        busy = rig.add_segment(base + 20)
        resized = rig.add_segment(base + 30)
        for rel in (gone, busy):
            (rig.root / rel).unlink()
        with open(rig.root / resized, "ab") as fh:
            fh.write(b"\0" * 1000)
        restored = segment_relpath("yard", base + 40)
        (rig.root / restored).parent.mkdir(parents=True, exist_ok=True)  # maybe a new hour
        shutil.copy(segment_file, rig.root / restored)
        junk = segment_relpath("yard", base + 50)
        (rig.root / junk).parent.mkdir(parents=True, exist_ok=True)
        (rig.root / junk).write_bytes(b"x" * 700)  # named like a segment, unplayable
        (rig.root / "yard" / "notes.txt").write_bytes(b"y" * 300)
        part = (rig.root / restored).with_name(".59.59.mp4.part")
        part.write_bytes(b"being written")

        with rig.retention.using([busy]):
            report = asyncio.run(rig.retention.reconcile_live())
        assert (report.rows_dropped, report.sizes_fixed, report.orphans_indexed) == (1, 1, 0)
        assert report.skipped == 2  # the restored copy and the junk are still "arriving"
        assert rig.paths() == {kept, busy, resized}
        assert part.exists()

        later = time.time() + ORPHAN_GRACE + 1
        report = asyncio.run(rig.retention.reconcile_live(now=later))
        assert (report.rows_dropped, report.orphans_indexed) == (1, 1)  # busy is free now
        assert report.stray_files == 2 and report.stray_bytes == 1000
        assert rig.paths() == {kept, resized, restored}
        assert (rig.root / junk).exists() and part.exists()  # left alone, but counted
        with sqlite3.connect(rig.db) as c:
            sizes = dict(c.execute("SELECT path, size FROM recordings").fetchall())
        assert sizes[resized] == rig.size + 1000
        assert sizes[restored] == rig.size
        used, _, _ = rig.retention.disk_usage()
        assert used >= 2 * rig.size + rig.size + 1000 + 1000

        # The recorder's own row for a file the reconcile indexed first wins (motion, kept).
        asyncio.run(rig.index.add("yard", restored, base + 40, base + 44, rig.size, True,
                                  False, False))
        with sqlite3.connect(rig.db) as c:
            row = c.execute("SELECT motion, kept FROM recordings WHERE path = ?",
                            (restored,)).fetchone()
        assert tuple(row) == (1, 0)
    finally:
        rig.close()
