"""The segment writer on real packets: names of two segments started in one second, and
segment times kept on the wall clock when the stream's clock runs away."""

from __future__ import annotations

import asyncio
import itertools
import shutil
import time
from pathlib import Path

import av

from vigil_engine.config import parse_config
from vigil_engine.events.bus import EventBus
from vigil_engine.record.retention import Retention, start_from_path
from vigil_engine.record.segments import Segment, SegmentWriter
from vigil_engine.store.db import Store
from vigil_engine.store.recordings import RecordingIndex


def feed(writer: SegmentWriter, footage: Path, packets: int) -> None:
    """One 'connection': the real stream's first packets through the real writer."""
    with av.open(str(footage)) as c:
        video = c.streams.video[0]
        writer.begin(video, None)
        for i, pkt in enumerate(c.demux(video)):
            if i >= packets:
                break
            writer.packet(pkt)
        writer.end()


def test_two_segments_in_one_second_stay_in_their_date_folder(tmp_path: Path,
                                                              footage_mp4: Path) -> None:
    data = tmp_path / "data"
    root = data / "recordings"
    done: list[Segment] = []
    for _ in range(10):  # until two connections start within one wall-clock second
        # Footage is placed when it was filmed: half a second of packets that arrive at
        # once started half a second before they arrived. Start in the middle of a
        # second, so both connections' footage starts within that second.
        time.sleep((0.5 - time.time()) % 1.0)
        shutil.rmtree(root, ignore_errors=True)  # no file left by an earlier attempt
        writer = SegmentWriter("yard", root, 60, done.append)
        done.clear()
        t0 = time.time()
        feed(writer, footage_mp4, 5)
        feed(writer, footage_mp4, 5)
        if len(done) == 2 and int(done[0].start_time) == int(done[1].start_time) \
                and time.time() - t0 < 1:
            break
    else:
        raise AssertionError("could not start two segments within one second")
    first, second = (s.path for s in done)
    assert second == first.removesuffix(".mp4") + "-1.mp4"
    for rel in (first, second):
        assert (root / rel).is_file()
        assert rel.count("/") == 3  # <camera>/<date>/<hour>/<MM.SS[-n]>.mp4
        assert start_from_path(rel) == float(int(done[0].start_time))

    # Start-up after a crash (nothing indexed): both are re-indexed, neither deleted.
    config = parse_config({"data_dir": str(data), "cameras": {"yard": {
        "inputs": [{"url": "rtsp://127.0.0.1:1/x", "roles": ["detect", "record"]}],
        "record": {"enabled": True}}}})
    store = Store(data / "vigil.db")
    try:
        retention = Retention(config, root, data / "clips", store, RecordingIndex(store),
                              EventBus())
        report = retention.reconcile()
        assert report["orphans_indexed"] == 2 and report["orphans_removed"] == 0
        assert (root / first).is_file() and (root / second).is_file()
        assert asyncio.run(RecordingIndex(store).usage())["yard"]["segments"] == 2
    finally:
        store.close()


def test_segment_times_are_reanchored_to_the_wall_clock(tmp_path: Path,
                                                        footage_mp4: Path) -> None:
    """A stream whose clock runs away from ours (here: 30 s of packets delivered at once)
    gets its segment times pulled back to the wall clock at each cut."""
    done: list[Segment] = []
    writer = SegmentWriter("yard", tmp_path / "recordings", 3, done.append)
    t0 = time.time()
    feed(writer, footage_mp4, 300)  # 30 s of stream time, in well under 30 s
    t1 = time.time()
    assert len(done) >= 5 and writer.reanchors >= 1
    for seg in done:
        # Without re-anchoring the last segments would start up to 30 s in the future.
        assert seg.start_time <= t1 + 2 * 3 + 2, (seg.start_time - t1)
        # The first segment's 3 s arrived at once: they were filmed before they came.
        assert seg.start_time >= t0 - 3 - 1
    assert (tmp_path / "recordings" / done[-1].path).is_file()


def test_a_reader_that_falls_behind_for_a_moment_cuts_no_hole(tmp_path: Path,
                                                              footage_mp4: Path) -> None:
    """Under load the reader may stall for seconds and then catch up. The stream's clock
    did not change: the footage must stay one run, its segments meeting end to start (a
    re-anchor on the stalled packets would cut a false hole, and the next one an overlap)."""
    done: list[Segment] = []
    writer = SegmentWriter("yard", tmp_path / "recordings", 1, done.append)
    with av.open(str(footage_mp4)) as c:
        video = c.streams.video[0]
        writer.begin(video, None)
        t0 = time.monotonic()
        for i, pkt in enumerate(c.demux(video)):
            if i >= 90:
                break
            if i == 30:
                time.sleep(3.0)  # the stall at 3 s: packets 30..59 then come at once
            time.sleep(max(0.0, t0 + i / 10 - time.monotonic()))  # live from 6 s on
            writer.packet(pkt)
        writer.end()
    assert len(done) >= 7 and writer.reanchors == 0
    for a, b in itertools.pairwise(done):
        assert abs(b.start_time - a.end_time) < 0.05, (a, b)
