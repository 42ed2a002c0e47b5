"""Playback of recorded footage without re-encoding.

An HLS playlist lists the segments of one continuous run around a moment;
each segment is remuxed (packets copied, never decoded) into MPEG-TS on
request, with timestamps placed on the run's own clock so the player sees one
seamless stream. This works whatever MP4 flavour the segments are written in
(plain or fragmented): they are only demuxed. Hover previews decode a single
keyframe, never a run of frames.
"""

from __future__ import annotations

import io
import math
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from ..capture.source import SCALER_THREADS
from ..store.recordings import SegmentRow

JOIN_SECONDS = 1.0
TS_CLOCK = 90000
TS_OFFSET = 10.0  # keeps the first decode timestamps positive (B-frames)
LIVE_SLACK = 3.0  # a run ending this close to the newest segment may still grow


def continuous_run(segments: Sequence[SegmentRow], at: float) -> list[SegmentRow]:
    """The segments touching each other around ``at`` (from the one holding it or the
    first after it), so the playlist has no hole to jump."""
    if not segments:
        return []
    idx = next((i for i, s in enumerate(segments) if s.end_time > at), len(segments) - 1)
    lo = idx
    while lo > 0 and segments[lo].start_time - segments[lo - 1].end_time <= JOIN_SECONDS:
        lo -= 1
    hi = idx
    while (hi + 1 < len(segments)
           and segments[hi + 1].start_time - segments[hi].end_time <= JOIN_SECONDS):
        hi += 1
    return list(segments[lo:hi + 1])


def playlist(run: Sequence[SegmentRow], *, growing: bool, query: str = "") -> str:
    """An HLS media playlist; ``growing`` (the run reaches the newest footage) makes it
    an EVENT playlist the player reloads, so playback carries on into new segments."""
    base = run[0].start_time
    target = max(1, math.ceil(max(s.end_time - s.start_time for s in run)))
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", f"#EXT-X-TARGETDURATION:{target}",
             "#EXT-X-MEDIA-SEQUENCE:0",
             f"#EXT-X-PLAYLIST-TYPE:{'EVENT' if growing else 'VOD'}",
             "#EXT-X-PROGRAM-DATE-TIME:" + time.strftime(
                 "%Y-%m-%dT%H:%M:%S", time.gmtime(base)) + f".{int(base % 1 * 1000):03d}Z"]
    extra = f"&{query}" if query else ""
    for seg in run:
        # Durations follow the wall clock so player time = start of run + position.
        lines.append(f"#EXTINF:{seg.end_time - seg.start_time:.3f},")
        lines.append(f"vod/{seg.id}.ts?base={base:.3f}{extra}")
    if not growing:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def remux_ts(path: Path, seg_start: float, base: float) -> bytes:
    """One segment as MPEG-TS, timestamps on the run's clock (``base`` = time 0)."""
    buf = io.BytesIO()
    with av.open(str(path)) as src, av.open(buf, "w", format="mpegts") as out:
        v = src.streams.video[0]
        a = src.streams.audio[0] if src.streams.audio else None
        ov = out.add_stream_from_template(v)
        oa = out.add_stream_from_template(a) if a is not None else None
        offset = seg_start - base + TS_OFFSET
        last: dict[int, int] = {}
        for p in src.demux([s for s in (v, a) if s is not None]):
            if p.pts is None or p.dts is None or p.size == 0:
                continue
            tb = p.time_base or Fraction(1, TS_CLOCK)
            is_video = p.stream is v
            shift = int(offset / tb)
            p.pts += shift
            p.dts += shift
            key = 0 if is_video else 1
            if key in last and p.dts <= last[key]:
                p.dts = last[key] + 1
                p.pts = max(p.pts, p.dts)
            last[key] = p.dts
            target = ov if is_video else oa
            assert target is not None
            p.stream = target
            out.mux(p)
    return buf.getvalue()


def keyframe_preview(path: Path, seg_start: float, at: float, height: int,
                     known: Callable[[float], bool]) -> tuple[np.ndarray | None, float]:
    """The last keyframe at or before ``at`` (else the first), its wall time, and unless
    ``known(wall time)`` says a picture of it exists, that one frame decoded and scaled.

    The file is opened once and only demuxed up to the keyframe; one packet is decoded."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        tb = v.time_base or Fraction(1, TS_CLOCK)
        chosen: av.Packet | None = None
        for p in c.demux(v):
            if p.pts is None or not p.is_keyframe:
                continue
            if chosen is not None and seg_start + float(p.pts * tb) > at:
                break
            chosen = p
        if chosen is None or chosen.pts is None:
            raise LookupError("no keyframe in segment")
        when = seg_start + float(chosen.pts * tb)
        if known(when):
            return None, when
        ctx = v.codec_context
        ctx.thread_count = 1  # one frame: threads would only add latency
        frames = list(ctx.decode(chosen)) + list(ctx.decode(None))
        if not frames:
            raise LookupError("keyframe did not decode")
        frame = frames[0]
        width = max(2, round(frame.width * height / frame.height / 2) * 2)
        rgb = frame.reformat(width=width, height=height, format="rgb24",
                             interpolation="FAST_BILINEAR",
                             threads=SCALER_THREADS).to_ndarray()
    return rgb, when


class PreviewCache:
    """Recently made preview JPEGs (hovering back and forth asks for the same ones)."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._items: OrderedDict[tuple[Any, ...], bytes] = OrderedDict()
        self.made = 0
        self.hits = 0
        self.cpu_seconds = 0.0

    def get(self, key: tuple[Any, ...]) -> bytes | None:
        data = self._items.get(key)
        if data is not None:
            self._items.move_to_end(key)
            self.hits += 1
        return data

    def put(self, key: tuple[Any, ...], data: bytes) -> None:
        self._items[key] = data
        while len(self._items) > self.size:
            self._items.popitem(last=False)
