"""Recording against real RTSP streams: a 1280x720 main stream for recording and
the 768x576 stream for detection, like a camera's main and sub streams."""

from __future__ import annotations

import itertools
import signal
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import av
import pytest

from tests.support.engine import EngineProcess
from tests.support.rtsp import RtspCamera

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

SEGMENT = 4.0
PRE, POST = 2.0, 2.0


@pytest.fixture(scope="module")
def main_stream(footage_720_ts: Path) -> Iterator[RtspCamera]:
    cam = RtspCamera(footage_720_ts).start()
    yield cam
    cam.stop()


@pytest.fixture(scope="module")
def sub_stream(footage_ts: Path) -> Iterator[RtspCamera]:
    cam = RtspCamera(footage_ts).start()
    yield cam
    cam.stop()


def yard_config(main: RtspCamera, sub: RtspCamera) -> dict[str, Any]:
    return {
        "storage": {"check_seconds": 2},
        "cameras": {"yard": {
            "inputs": [{"url": sub.url, "roles": ["detect"]},
                       {"url": main.url, "roles": ["record"]}],
            "detect": {"fps": 5, "width": 768, "height": 576},
            "events": {"idle_timeout": 3, "max_length": 12},
            "record": {"enabled": True, "segment_seconds": SEGMENT, "pre_capture": PRE,
                       "post_capture": POST},
        }},
    }


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory, main_stream: RtspCamera,
           sub_stream: RtspCamera) -> Iterator[EngineProcess]:
    eng = EngineProcess(tmp_path_factory.mktemp("rec"), yard_config(main_stream, sub_stream))
    eng.start()
    yield eng
    eng.stop()


def segments(engine: EngineProcess, since: float = 0) -> list[dict[str, Any]]:
    now = time.time()
    since = since or now - 3600
    return engine.json(f"/api/cameras/yard/recordings?since={since}&until={now + 60}")["segments"]


def folder_size(data_dir: Path) -> int:
    return sum(p.stat().st_size for p in data_dir.rglob("*") if p.is_file())


def rows_and_files(data_dir: Path) -> tuple[set[str], set[str]]:
    with sqlite3.connect(data_dir / "vigil.db") as db:
        rows = {r[0] for r in db.execute("SELECT path FROM recordings")}
    root = data_dir / "recordings"
    files = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    return rows, files


def test_segments_are_valid_contiguous_mp4s_of_the_main_stream(engine: EngineProcess) -> None:
    segs = engine.wait_for(lambda: len(segments(engine)) >= 4 and segments(engine), 60,
                           what="four segments")
    root = engine.data_dir / "recordings"
    rows, files = rows_and_files(engine.data_dir)
    assert rows <= files
    for a, b in itertools.pairwise(segs):
        assert 0 <= b["start_time"] - a["end_time"] < 0.5, (a, b)  # no gap on a healthy stream
    for path in sorted(rows)[:4]:
        with av.open(str(root / path)) as c:
            v = c.streams.video[0]
            assert (v.codec_context.width, v.codec_context.height) == (1280, 720)
            assert v.codec_context.name == "h264"
            duration = c.duration / 1e6
            frames = sum(1 for _ in c.decode(video=0))  # it really plays
        assert SEGMENT - 0.2 <= duration <= SEGMENT + 1.2, (path, duration)
        assert frames >= 10 * (SEGMENT - 0.2)
    for s in segs:
        assert s["end_time"] - s["start_time"] == pytest.approx(SEGMENT, abs=1.2)


def test_record_stream_is_never_decoded(engine: EngineProcess) -> None:
    rec = engine.camera("yard")["record"]
    assert rec["input"] == "separate" and rec["online"] and rec["fps"] > 5
    assert rec["resolution"] == [1280, 720]
    assert rec["packets"] > 100 and rec["segments_written"] >= 1
    assert rec["decoder_opened"] is False  # the 720p stream's decoder was never opened


def test_event_clip_plays_covers_the_event_and_supports_ranges(engine: EngineProcess) -> None:
    def closed_with_clip() -> dict[str, Any] | None:
        # One that began once recording was running, so its pre-capture exists.
        recording_since = segments(engine)[0]["start_time"]
        return next((e for e in engine.all_events("camera=yard")
                     if e["end_time"] and e["has_clip"]
                     and e["start_time"] - PRE > recording_since + 1), None)

    ev = engine.wait_for(closed_with_clip, 90, what="a closed event with a clip")
    # The post-capture must be on disk before the clip is final.
    engine.wait_for(lambda: segments(engine)[-1]["end_time"] >= ev["end_time"] + POST, 30,
                    what="post-capture recorded")
    resp = engine.get(f"/api/events/{ev['id']}/clip.mp4")
    assert resp.status == 200 and resp.headers["Content-Type"] == "video/mp4"
    assert resp.headers.get("Accept-Ranges") == "bytes"
    clip = engine.tmp / "clip.mp4"
    clip.write_bytes(resp.body)
    with av.open(str(clip)) as c:
        v = c.streams.video[0]
        assert (v.codec_context.width, v.codec_context.height) == (1280, 720)
        frames = sum(1 for _ in c.decode(video=0))
        duration = c.duration / 1e6
    wanted = (ev["end_time"] - ev["start_time"]) + PRE + POST
    # Starts at the keyframe at or before start - pre (keyframes every second).
    assert wanted - 0.3 <= duration <= wanted + 1.5, (duration, wanted)
    assert frames >= 10 * (wanted - 0.5)
    # Browser-friendly: the index (moov) comes before the media data (faststart).
    assert resp.body.find(b"moov") < resp.body.find(b"mdat")
    part = engine.get(f"/api/events/{ev['id']}/clip.mp4", headers={"Range": "bytes=1000-1999"})
    assert part.status == 206
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(resp.body)}"
    assert part.body == resp.body[1000:2000]
    tail = engine.get(f"/api/events/{ev['id']}/clip.mp4", headers={"Range": "bytes=-500"})
    assert tail.status == 206 and tail.body == resp.body[-500:]
    again = engine.get(f"/api/events/{ev['id']}/clip.mp4")
    assert again.body == resp.body  # cached, identical


def test_export_any_span_with_clear_errors(engine: EngineProcess) -> None:
    segs = engine.wait_for(lambda: len(segments(engine)) >= 3 and segments(engine), 30,
                           what="three segments")
    start = segs[0]["start_time"] + 1
    end = start + 6
    resp = engine.get(f"/api/cameras/yard/clip.mp4?start={start}&end={end}")
    assert resp.status == 200
    out = engine.tmp / "export.mp4"
    out.write_bytes(resp.body)
    with av.open(str(out)) as c:
        assert 6 <= c.duration / 1e6 <= 8
    bad = [(f"start={end}&end={start}", 400), (f"start={start}&end={start + 7200}", 400),
           ("start=abc&end=1", 400), (f"start={start}", 400), ("start=1000&end=1010", 404)]
    for query, status in bad:
        r = engine.get(f"/api/cameras/yard/clip.mp4?{query}")
        assert r.status == status, (query, r.body)
        assert r.json()["error"]["message"]
    assert engine.get(f"/api/cameras/gate/clip.mp4?start={start}&end={end}").status == 404


def test_stream_outage_is_a_gap_and_recording_resumes(engine: EngineProcess,
                                                      main_stream: RtspCamera) -> None:
    main_stream.stop()
    engine.wait_for(lambda: not engine.camera("yard")["record"]["online"], 30,
                    what="record input offline")
    cut = time.time()
    time.sleep(3)
    main_stream.restart()
    engine.wait_for(lambda: any(s["start_time"] > cut for s in segments(engine)), 60,
                    what="recording to resume")
    engine.wait_for(lambda: len([s for s in segments(engine) if s["start_time"] > cut]) >= 2,
                    30, what="two new segments")
    segs = segments(engine)
    gaps = [(a["end_time"], b["start_time"]) for a, b in itertools.pairwise(segs)
            if b["start_time"] - a["end_time"] >= 0.5]
    assert len(gaps) == 1 and gaps[0][1] - gaps[0][0] >= 3  # exactly one gap: the outage
    now = time.time()
    outages = engine.json(f"/api/cameras/yard/recordings?since={now - 600}&until={now}")["outages"]
    assert outages and outages[-1]["end_time"] is not None
    assert outages[-1]["start_time"] <= gaps[0][1] and outages[-1]["end_time"] >= gaps[0][0]


def test_kill_9_mid_recording_loses_at_most_2_seconds(
        tmp_path_factory: pytest.TempPathFactory, main_stream: RtspCamera,
        sub_stream: RtspCamera) -> None:
    tmp = tmp_path_factory.mktemp("kill")
    config = yard_config(main_stream, sub_stream)
    config["cameras"]["yard"]["record"]["segment_seconds"] = 20  # long: a lot to lose
    eng = EngineProcess(tmp, config).start()
    eng.wait_for(lambda: len(segments(eng)) >= 1, 60, what="a first segment")
    time.sleep(8)  # well into the second segment
    before, _ = rows_and_files(eng.data_dir)
    killed_at = time.time()
    eng.stop(signal.SIGKILL)
    _, files_after_kill = rows_and_files(eng.data_dir)
    assert any(f.endswith(".part") for f in files_after_kill)  # it was really mid-write
    eng.start()
    salvaged = [s for s in segments(eng, since=killed_at - 600) if s["start_time"] < killed_at]
    eng.wait_for(lambda: any(s["start_time"] > killed_at for s in segments(eng)), 60,
                 what="recording again")
    assert eng.stop(signal.SIGTERM) == 0
    rows, files = rows_and_files(eng.data_dir)
    assert rows == files  # no row without its file, no file unaccounted
    assert before <= rows  # every complete segment survived the kill
    assert not any(f.endswith(".part") for f in files)
    # The interrupted segment was saved up to about its last second.
    assert len(salvaged) == len(before) + 1
    lost = killed_at - max(s["end_time"] for s in salvaged)
    assert lost <= 2.5, f"{lost:.1f} s lost"
    last = min(rows - before)  # the earliest new file: the salvaged one
    with av.open(str(eng.data_dir / "recordings" / last)) as c:
        frames = sum(1 for p in c.demux(c.streams.video[0]) if p.size)
    assert frames >= 40  # several seconds of real video in the saved file (10 fps)


def test_quota_keeps_usage_under_the_limit_and_spares_protected_footage(
        tmp_path_factory: pytest.TempPathFactory, main_stream: RtspCamera,
        sub_stream: RtspCamera) -> None:
    tmp = tmp_path_factory.mktemp("quota")
    config = yard_config(main_stream, sub_stream)
    limit = 12_000_000  # footage, snapshots and the database together
    config["storage"] = {"check_seconds": 2, "max_size_gb": limit / 1e9}
    eng = EngineProcess(tmp, config).start()
    db = eng.data_dir / "vigil.db"

    def covering(ev: dict[str, Any]) -> set[str]:
        with sqlite3.connect(db) as c:
            return {r[0] for r in c.execute(
                "SELECT path FROM recordings WHERE camera = 'yard' AND end_time > ? AND "
                "start_time < ?", (ev["start_time"] - PRE, ev["end_time"] + POST))}

    try:
        def recorded_event() -> dict[str, Any] | None:
            segs = segments(eng)
            if not segs:
                return None
            return next((e for e in reversed(eng.all_events("camera=yard"))
                         if e["end_time"] and e["start_time"] - PRE > segs[0]["start_time"]
                         and segs[-1]["end_time"] >= e["end_time"] + POST), None)

        ev = eng.wait_for(recorded_event, 90, what="a closed event with all its footage")
        with sqlite3.connect(db) as c:
            first_segment = c.execute(
                "SELECT path FROM recordings ORDER BY start_time LIMIT 1").fetchone()[0]
        assert eng.request(f"/api/events/{ev['id']}/protect", method="POST").status == 200
        assert eng.json(f"/api/events/{ev['id']}")["protected"] is True
        protected = covering(ev)
        assert protected
        eng.wait_for(lambda: eng.json("/api/stats")["storage"]["last_purge"]["quota"] > 0 or None,
                     120, what="a quota purge")
        # Everything under the data folder counts (database, WAL, snapshots, clips): while
        # recording it stays within the limit plus the segments written since the last pass.
        peaks = []
        for _ in range(10):
            biggest = max(s["size"] for s in segments(eng))
            peaks.append(folder_size(eng.data_dir) - 2 * biggest)
            time.sleep(1.5)
        assert max(peaks) <= limit, peaks
        eng.wait_for(lambda: sum(s["size"] for s in segments(eng)) > limit / 4, 60,
                     what="footage to pile up again")
    finally:
        assert eng.stop(signal.SIGTERM) == 0
    rows, files = rows_and_files(eng.data_dir)
    assert rows == files
    assert folder_size(eng.data_dir) <= limit  # the final pass leaves the disk within limits
    assert protected <= rows  # every segment of the protected event survived
    # Purged oldest first (the exact order by footage kind and risk is tested in
    # test_retention.py): the very first segment, unprotected, is gone.
    assert first_segment not in rows or first_segment in protected
