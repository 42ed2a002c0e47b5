"""The recordings index follows the disk while the engine runs: footage deleted by hand,
restored from a copy or changed in size is noticed by the periodic reconcile, so the
recordings, the timeline and the quota's figures agree with what is really on disk.
The engine runs from its CLI on a real RTSP camera."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.support.engine import EngineProcess
from tests.support.rtsp import RtspCamera
from vigil_engine.record.retention import ORPHAN_GRACE, start_from_path
from vigil_engine.record.segments import segment_relpath

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

RECONCILE = 5  # seconds: storage.reconcile_seconds for the test (default: an hour)


@pytest.fixture(scope="module")
def camera(footage_ts: Path) -> Iterator[RtspCamera]:
    cam = RtspCamera(footage_ts).start()
    yield cam
    cam.stop()


def disk_segments(root: Path) -> dict[str, int]:
    """Segment files of camera ``yard`` on disk (the one being written is hidden)."""
    out = {}
    for path in (root / "yard").rglob("*.mp4"):
        if not path.name.startswith("."):
            out[path.relative_to(root).as_posix()] = path.stat().st_size
    return out


def data_bytes(data: Path) -> int:
    return sum(p.stat().st_size for p in data.rglob("*") if p.is_file())


def all_segments(eng: EngineProcess, since: float) -> list[dict[str, Any]]:
    return eng.json(f"/api/cameras/yard/recordings?since={since}&until={time.time() + 60}"
                    )["segments"]


def test_periodic_reconcile_makes_index_and_quota_agree_with_the_disk(
        tmp_path: Path, camera: RtspCamera) -> None:
    config = {
        "storage": {"check_seconds": 2, "reconcile_seconds": RECONCILE, "max_size_gb": 50},
        "location": {"timezone": "UTC"},
        "cameras": {"yard": {
            "inputs": [{"url": camera.url, "roles": ["detect", "record"]}],
            "detect": {"fps": 1, "width": 384, "height": 288},
            "record": {"enabled": True, "segment_seconds": 2}}},
    }
    with EngineProcess(tmp_path, config) as eng:
        root = eng.data_dir / "recordings"
        eng.wait_for(lambda: len(all_segments(eng, time.time() - 600)) >= 8, 90,
                     what="eight indexed segments")
        before = eng.json("/api/stats")["storage"]["reconcile"]
        assert before["interval_seconds"] == RECONCILE

        # Behind the engine's back, while it records: a user deletes some footage by
        # hand, a file changes size, and a restore drops in a segment the index never had.
        indexed = sorted(p for p in disk_segments(root))
        deleted = indexed[1:6:2]  # three, not touching each other: three holes
        deleted_starts = [start_from_path(p) for p in deleted]
        ghost_bytes = sum((root / rel).stat().st_size for rel in deleted)
        for rel in deleted:
            (root / rel).unlink()
        grown = indexed[6]  # finished and indexed, not one of the deleted
        with open(root / grown, "ab") as fh:
            fh.write(b"\0" * 50_000)
        oldest = start_from_path(indexed[0])
        assert oldest is not None
        stray_start = float(int(oldest) - 600)
        stray = segment_relpath("yard", stray_start)
        (root / stray).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(root / indexed[2], root / stray)
        tampered = time.time()

        def reconciled() -> dict[str, Any] | None:
            rec = eng.json("/api/stats")["storage"]["reconcile"]
            last = rec["last"]
            # The restored file is indexed only once it has stopped changing.
            if last and last["time"] > tampered + ORPHAN_GRACE and rec["totals"][
                    "orphans_indexed"] >= 1:
                return rec
            return None

        rec = eng.wait_for(reconciled, ORPHAN_GRACE + 60, interval=1,
                           what="a reconcile after the changes")
        assert rec["runs"] > before["runs"]
        assert rec["totals"]["rows_dropped"] == 3
        assert rec["totals"]["orphans_indexed"] == 1
        assert rec["totals"]["sizes_fixed"] == 1
        assert "recordings reconciled with the disk: 3 row(s) without a file dropped" \
            in eng.log()

        # Recording went on through it: segments written since are indexed as usual,
        # and the segment being written was left alone.
        # A segment ends when it was filmed, up to a segment (2 s) before the reconcile
        # that was just seen: wait for the next one rather than race it.
        eng.wait_for(lambda: eng.camera("yard")["record"]["last_segment_end"]
                     > tampered + ORPHAN_GRACE, 15, what="a segment indexed after the reconcile")
        cam = eng.camera("yard")
        assert cam["status"] == "online" and cam["stats"]["reconnects"] == 0
        assert cam["record"]["errors"] == 0
        assert cam["record"]["last_segment_end"] > tampered + ORPHAN_GRACE

        # Freeze the disk (no recording, no snapshots), then compare exactly.
        resp = eng.request("/api/cameras/yard", method="POST",
                           data=b'{"record": false, "detect": false}',
                           headers={"Content-Type": "application/json"})
        assert resp.status == 200, resp.body
        eng.wait_for(lambda: not any(p.name.endswith(".part") for p in root.rglob("*")), 20,
                     what="the last segment to close")
        time.sleep(3)  # its row, and a retention pass that counts everything

        on_disk = disk_segments(root)
        segs = all_segments(eng, stray_start - 60)
        assert len(segs) == len(on_disk)
        assert sorted(s["size"] for s in segs) == sorted(on_disk.values())
        starts = {round(s["start_time"]) for s in segs}
        assert round(stray_start) in starts  # the restored footage can be played
        for s in deleted_starts:
            assert s is not None and round(s) not in starts  # the ghosts are gone
        grown_row = next(s for s in segs if abs(s["start_time"] - start_from_path(grown)) < 1.5)
        assert grown_row["size"] == on_disk[grown]

        day = datetime.fromtimestamp(stray_start, UTC).date().isoformat()
        timeline = eng.json(f"/api/cameras/yard/timeline?date={day}")
        spans = [(sp["start"], sp["end"]) for sp in timeline["spans"]]

        def covered(t: float) -> bool:
            return any(a <= t <= b for a, b in spans)

        assert covered(stray_start + 1)
        for s in deleted_starts:
            assert s is not None
            if datetime.fromtimestamp(s, UTC).date().isoformat() == day:
                assert not covered(s + 1), (s, spans)

        # The quota counts what is on disk: footage from the index, everything else too.
        storage = eng.json("/api/stats")["storage"]
        assert storage["cameras"]["yard"]["segments"] == len(on_disk)
        assert storage["cameras"]["yard"]["bytes"] == sum(on_disk.values())
        real = data_bytes(eng.data_dir)
        assert abs(storage["used_bytes"] - real) <= max(64_000, real // 200), (
            storage["used_bytes"], real)
        # Without the reconcile it would not: the deleted footage alone is more than that.
        assert ghost_bytes > max(64_000, real // 200), (ghost_bytes, real)
