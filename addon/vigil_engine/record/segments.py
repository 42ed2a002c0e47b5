"""Cut the record stream into MP4 segments by remuxing packets (never decoding).

Runs inside the capture thread, fed packet by packet. Segments start on a
keyframe; their wall-clock times come from the stream's own timestamps
anchored once per connection, so consecutive segments of a healthy stream
meet exactly (no gap) while a reconnect shows up as a real gap.

A segment is written as fragmented MP4 (a fragment at every keyframe and at
least every second) to a hidden ``.part`` file, renamed when complete, then
reported (and indexed); file and folder are fsynced first. After a crash the
``.part`` is already a playable file up to its last fragment, which start-up
salvages (record/retention.py): a kill or power cut loses about a second.

Segment times come from the stream's clock anchored to the wall clock. Footage
is never filmed after it arrives, so the anchor is the earliest arrival seen:
while a connection's first segment is open, a packet that arrives "early" (a
restreamer or NVR handing over its buffered seconds at connect, or packets the
demuxer read while probing) pulls the whole segment back to when it was filmed,
before anything is reported, so consecutive segments never overlap. After that
the anchor is renewed only when the stream's clock drifts from ours over a whole
segment (its least-delayed packet), never because the reader fell behind for a
moment under load (that would cut a false hole into the footage). A timestamp jump
(a camera that restarts its clock, backwards or far forwards) ends the segment and
starts a new one instead of dropping packets until the stream reconnects.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ..redact import scrub

_LOGGER = logging.getLogger(__name__)

MP4_AUDIO = {"aac", "mp3", "opus", "alac", "flac"}
# Fragmented MP4: playable up to the last fragment if the writer dies.
MP4_OPTIONS = {"movflags": "frag_keyframe+empty_moov+default_base_moof",
               "frag_duration": "1000000", "flush_packets": "1"}
DRIFT_MAX = 2.0  # seconds between stream clock and wall clock before re-anchoring
JUMP_MAX = 10.0  # seconds: a bigger step between packets is a clock jump, not a gap


@dataclass(frozen=True, slots=True)
class Segment:
    camera: str
    path: str  # relative to the recordings root
    start_time: float
    end_time: float
    size: int


def segment_relpath(camera: str, start: float) -> str:
    """``<camera>/<YYYY-MM-DD>/<HH>/<MM.SS>.mp4`` in UTC (no DST ambiguity)."""
    t = time.gmtime(start)
    return f"{camera}/{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}/{t.tm_hour:02d}/" \
           f"{t.tm_min:02d}.{t.tm_sec:02d}.mp4"


class _Open:
    """The segment being written."""

    def __init__(self, root: Path, camera: str, start: float, first_dts: int,
                 video: av.video.stream.VideoStream,
                 audio: av.audio.stream.AudioStream | None) -> None:
        self.root = root
        self.camera = camera
        self.rel, self.final = self._place(start)
        self.part = self.final.with_name(f".{self.final.name}.part")
        self.start = start
        self.end = start
        self.first_dts = first_dts
        self.container = av.open(str(self.part), mode="w", format="mp4", options=MP4_OPTIONS)
        self.video = self.container.add_stream_from_template(video)
        self.audio = self.container.add_stream_from_template(audio) if audio else None
        self.audio_offset: int | None = None
        self.packets = 0
        self.last_dts = first_dts

    def _place(self, start: float) -> tuple[str, Path]:
        """A free name for a segment starting at ``start`` (its name says when)."""
        rel = segment_relpath(self.camera, start)
        final = self.root / rel
        n = 1
        base = rel.removesuffix(".mp4")
        while final.exists():  # two segments in one second (quick reconnect): MM.SS-n.mp4
            rel = f"{base}-{n}.mp4"
            final = self.root / rel
            n += 1
        final.parent.mkdir(parents=True, exist_ok=True)
        return rel, final

    def renamed_for_start(self) -> None:
        """The start was moved back after the file was named: name it for the new one."""
        if not self.rel.startswith(segment_relpath(self.camera, self.start).removesuffix(".mp4")):
            self.rel, self.final = self._place(self.start)


class SegmentWriter:
    def __init__(self, camera: str, root: Path, segment_seconds: float,
                 on_segment: Callable[[Segment], None]) -> None:
        self.camera = camera
        self.root = root
        self.segment_seconds = segment_seconds
        self.on_segment = on_segment
        self._video: av.video.stream.VideoStream | None = None
        self._audio: av.audio.stream.AudioStream | None = None
        self._origin_wall = 0.0
        self._origin_pts: int | None = None
        self._tb = Fraction(1, 90000)
        self._cur: _Open | None = None
        # Pulling the anchor back is allowed until the connection's first segment is out.
        self._settling = True
        self._min_lag = float("inf")  # the open segment's least-delayed packet (s)
        self._last_end = 0.0  # end of the last reported segment: never start before it
        self.segments_written = 0
        self.packets = 0
        self.errors = 0
        self.clock_jumps = 0
        self.reanchors = 0
        self.last_error: str | None = None
        self.audio_note_logged = False
        self.enabled = True  # switched from the API; read by the capture thread

    # ------------------------------------------------------------------ session

    def begin(self, video: av.video.stream.VideoStream,
              audio: av.audio.stream.AudioStream | None) -> None:
        """A new connection: timestamps restart, so re-anchor to the wall clock."""
        self._finish()
        self._video = video
        tb = video.time_base
        self._tb = Fraction(tb.numerator, tb.denominator) if tb else Fraction(1, 90000)
        if audio is not None and audio.codec_context.name not in MP4_AUDIO:
            if not self.audio_note_logged:
                _LOGGER.info("%s: recording without audio (%s cannot go into MP4)",
                             self.camera, audio.codec_context.name)
                self.audio_note_logged = True
            audio = None
        self._audio = audio
        self._origin_pts = None  # the first keyframe anchors (and settles) anew

    def end(self) -> None:
        """The connection ended: keep what was written as a complete segment."""
        self._finish()
        self._video = None

    def _wall(self, pts: int) -> float:
        assert self._origin_pts is not None
        return self._origin_wall + float((pts - self._origin_pts) * self._tb)

    # ------------------------------------------------------------------ packets

    def packet(self, pkt: av.Packet) -> None:
        if not self.enabled:
            if self._cur is not None:
                self._finish()  # keep what was recorded up to the switch
                self._origin_pts = None
            return
        if self._video is None or pkt.pts is None or pkt.dts is None or pkt.size == 0:
            return
        try:
            if pkt.stream is self._video:
                self._video_packet(pkt)
            elif pkt.stream is self._audio and self._cur is not None:
                self._audio_packet(pkt)
        except (av.error.FFmpegError, OSError, ValueError) as err:
            self._fail(err)

    def _video_packet(self, pkt: av.Packet) -> None:
        assert pkt.pts is not None and pkt.dts is not None
        cur = self._cur
        if cur is not None and (pkt.dts < cur.last_dts
                                or float((pkt.dts - cur.last_dts) * self._tb) > JUMP_MAX):
            # The camera's clock jumped: keep what we have and start over at a keyframe,
            # continuing from where the stream was on the wall clock.
            self.clock_jumps += 1
            _LOGGER.info("%s: stream timestamps jumped by %.1f s; starting a new segment",
                         self.camera, float((pkt.dts - cur.last_dts) * self._tb))
            resume = cur.end
            self._finish()
            self._origin_pts = None
            self._settling = True
            cur = None
            if not pkt.is_keyframe:
                return
            self._origin_pts, self._origin_wall = pkt.pts, resume
        now = time.time()
        if self._origin_pts is None:
            if not pkt.is_keyframe:
                return  # a segment must start with a keyframe
            self._origin_pts = pkt.pts
            self._origin_wall = now
            self._settling = True
        t = self._wall(pkt.pts)
        if self._settling and t > now:
            # Arrived before its time on our clock: the anchor was late. Nothing of this
            # connection is reported yet, so move it (and the open segment) back.
            start = cur.start if cur is not None else t
            shift = min(t - now, max(0.0, start - self._last_end))  # never over the last
            if cur is not None:
                cur.start -= shift
                cur.end -= shift
            self._origin_wall -= shift
            t -= shift
        self._min_lag = min(self._min_lag, now - t)
        if pkt.is_keyframe and (cur is None or t - cur.start >= self.segment_seconds):
            drift = self._min_lag if cur is not None else 0.0
            if cur is not None:
                cur.end = t
                self._finish()
            if abs(drift) > DRIFT_MAX:
                # Long sessions drift (camera clock vs ours): re-anchor at a cut, by what
                # the whole segment says, not by this one packet's delay.
                self.reanchors += 1
                _LOGGER.info("%s: stream clock %.1f s off the wall clock; re-anchored",
                             self.camera, -drift)
                self._origin_wall += drift
                t += drift
            self._min_lag = now - t
            assert self._video is not None
            cur = self._cur = _Open(self.root, self.camera, t, pkt.dts, self._video,
                                    self._audio)
        if cur is None:
            return
        duration = pkt.duration or 0
        cur.last_dts = pkt.dts
        pkt.pts -= cur.first_dts
        pkt.dts -= cur.first_dts
        if pkt.dts < 0:
            return
        pkt.stream = cur.video
        cur.container.mux(pkt)
        cur.packets += 1
        self.packets += 1
        cur.end = max(cur.end, t + float(duration * self._tb))

    def _audio_packet(self, pkt: av.Packet) -> None:
        cur = self._cur
        assert cur is not None and cur.audio is not None and pkt.pts is not None
        atb = pkt.time_base
        if cur.audio_offset is None:
            # Both streams share the demuxer's clock: align audio to the segment start.
            seg_start = float(cur.first_dts * self._tb)
            cur.audio_offset = int(seg_start / float(atb)) if atb else pkt.pts
        pkt.pts -= cur.audio_offset
        pkt.dts = (pkt.dts or pkt.pts) - cur.audio_offset
        if pkt.pts < 0:
            return
        pkt.stream = cur.audio
        cur.container.mux(pkt)

    # ------------------------------------------------------------------ finishing

    def _finish(self) -> None:
        cur, self._cur = self._cur, None
        if cur is None:
            return
        try:
            cur.container.close()
            if cur.packets == 0:
                cur.part.unlink(missing_ok=True)
                return
            with open(cur.part, "rb+") as fh:
                os.fsync(fh.fileno())
            cur.renamed_for_start()
            os.replace(cur.part, cur.final)
            fsync_dir(cur.final.parent)  # the rename itself survives a power cut
            size = cur.final.stat().st_size
        except (av.error.FFmpegError, OSError) as err:
            self._fail(err)
            cur.part.unlink(missing_ok=True)
            return
        self.segments_written += 1
        self._settling = False
        self._last_end = max(self._last_end, cur.end)
        self.on_segment(Segment(self.camera, cur.rel, cur.start, cur.end, size))

    def _fail(self, err: Exception) -> None:
        """A write error (disk full, bad packet) loses this segment, never the camera."""
        self.errors += 1
        self.last_error = scrub(str(err))
        _LOGGER.warning("%s: recording error: %s", self.camera, self.last_error)
        cur, self._cur = self._cur, None
        if cur is not None:
            with contextlib.suppress(av.error.FFmpegError, OSError):
                cur.container.close()
            cur.part.unlink(missing_ok=True)
        self._origin_pts = None  # restart cleanly at the next keyframe


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def salvage_part(part: Path, final: Path) -> float | None:
    """Remux the readable packets of a crashed ``.part`` (fragmented MP4) into ``final``;
    returns the seconds saved, or None if nothing was playable. Never decodes."""
    tmp = final.with_name(f".{final.name}.salvage")
    last = 0.0
    packets = 0
    try:
        with av.open(str(part)) as src:
            if not src.streams.video:
                return None
            video = src.streams.video[0]
            out = av.open(str(tmp), mode="w", format="mp4")
            try:
                ovideo = out.add_stream_from_template(video)
                tb = video.time_base or Fraction(1, 90000)
                try:
                    for pkt in src.demux(video):
                        if pkt.dts is None or pkt.size == 0:
                            continue
                        end = float((pkt.pts or pkt.dts) * tb) + float((pkt.duration or 0) * tb)
                        pkt.stream = ovideo
                        out.mux(pkt)
                        packets += 1
                        last = max(last, end)
                except (av.error.FFmpegError, ValueError):
                    pass  # the fragment cut off by the crash: keep everything before it
            finally:
                out.close()
        if not packets:
            tmp.unlink(missing_ok=True)
            return None
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, final)
        fsync_dir(final.parent)
        return last or None
    except (av.error.FFmpegError, OSError, ValueError) as err:
        _LOGGER.warning("cannot salvage %s: %s", part, err)
        tmp.unlink(missing_ok=True)
        return None
