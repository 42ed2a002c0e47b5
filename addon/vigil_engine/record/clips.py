"""Assemble a browser-playable MP4 for a time span from recorded segments.

Pure remux: packets are copied with new timestamps, never decoded. The clip
starts at the last keyframe at or before the requested start (a clip cannot
start between keyframes without re-encoding) and stops after the requested
end. ``faststart`` puts the index first so browsers can play while loading.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av

from ..store.recordings import SegmentRow


@dataclass(frozen=True, slots=True)
class ClipInfo:
    start: float  # wall time of the first frame
    end: float
    segments: int


class NoFootage(Exception):
    """Nothing recorded in the requested span."""


def _first_keyframe_at_or_before(path: Path, seg_start: float, at: float) -> float:
    """Wall offset (s) of the last keyframe <= ``at`` within a segment, by demuxing only."""
    best = 0.0
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        tb = v.time_base or Fraction(1, 90000)
        for p in c.demux(v):
            if p.pts is None or not p.is_keyframe:
                continue
            t = seg_start + float(p.pts * tb)
            if t <= at:
                best = t - seg_start
            else:
                break
    return best


def assemble(root: Path, segments: Sequence[SegmentRow], start: float, end: float,
             out: Path) -> ClipInfo:
    segs = [s for s in segments if s.end_time > start and s.start_time < end]
    if not segs:
        raise NoFootage
    first = segs[0]
    origin = first.start_time + (
        _first_keyframe_at_or_before(root / first.path, first.start_time, start)
        if start > first.start_time else 0.0)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.part")
    output = av.open(str(tmp), mode="w", format="mp4",
                     options={"movflags": "+faststart"})
    ovideo = oaudio = None
    last_dts: dict[str, int] = {}
    clip_end = origin
    used = 0
    try:
        for seg in segs:
            with av.open(str(root / seg.path)) as src:
                v = src.streams.video[0]
                a = src.streams.audio[0] if src.streams.audio else None
                if ovideo is None:
                    ovideo = output.add_stream_from_template(v)
                    oaudio = output.add_stream_from_template(a) if a is not None else None
                streams = [v, a] if a is not None and oaudio is not None else [v]
                used += 1
                done = False
                for p in src.demux(streams):
                    if p.pts is None or p.dts is None or p.size == 0:
                        continue
                    tb = p.time_base
                    t = seg.start_time + float(p.pts * tb)
                    is_video = p.stream is v
                    if t < origin - 1e-6:
                        continue
                    if t > end:
                        if is_video:
                            done = True
                            break
                        continue
                    shift = p.pts - p.dts
                    pts = round((t - origin) / tb)
                    dts = pts - shift
                    key = "v" if is_video else "a"
                    if key in last_dts and dts <= last_dts[key]:
                        dts = last_dts[key] + 1
                        pts = max(pts, dts)
                    last_dts[key] = dts
                    p.pts, p.dts = pts, dts
                    target = ovideo if is_video else oaudio
                    assert target is not None
                    p.stream = target
                    output.mux(p)
                    if is_video:
                        clip_end = max(clip_end, t + float((p.duration or 0) * tb))
                if done:
                    break
    except BaseException:
        output.close()
        tmp.unlink(missing_ok=True)
        raise
    output.close()
    os.replace(tmp, out)
    return ClipInfo(origin, clip_end, used)
