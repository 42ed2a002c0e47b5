"""Multi-object tracker tuned against false alarms.

A detection becomes a *confirmed* object only after ``min_frames`` sightings
with a good median score, which removes the one-frame ghosts that plague
motion-only and single-shot systems. A candidate that keeps its place and still
does not confirm after ``DOUBT_HITS`` looks (a half-seen car at the frame's edge, a
pole at a borderline score) is *doubtful*: looked at on the stationary schedule,
not every sample, and its place is remembered for a while so that it does not
come back as a fresh candidate that is looked at every sample again (measured:
such a spot made a quiet camera run the detector on most samples). Motion there
is still looked at at once. An object whose label the user lists in
``objects.ignore_still_from_start`` (parked vehicles) cannot open an event
until it leaves the place it was first seen in; a person who is already there
when the camera comes online, and never moves, is reported. An object that
stops moving becomes *stationary*.
"""

from __future__ import annotations

import secrets
import statistics
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..config import CameraConfig, ObjectFilter
from ..detect.regions import box_area, cut_sides, intersection, iou, union
from ..detect.types import Box, Detection
from ..motion.masks import point_in_polygon
from .zones import Zone

ZONE_GRACE = 2.0  # seconds seen outside a zone before time-in-zone restarts
PATH_INTERVAL = 1.0  # seconds between stored path points
PATH_MAX = 120
STATIONARY_RECHECK = 5.0  # seconds between looks at objects that do not move
# A parked vehicle (never left its first place) is in no event: if it drives off, its
# motion is looked at at once. A recheck every 5 s cost an idle camera a third of its CPU.
PARKED_RECHECK = 30.0
# Nor can it drive off without changing its pixels: while the motion detector saw nothing
# change where it stands (not masked there, no relearning of the scene), it is looked at
# far less often, still well before FORGET_AFTER. A look costs 20-45 ms of CPU, two a
# minute were 4-8 % of an idle camera's cost beyond decoding.
PARKED_QUIET_RECHECK = 120.0
FORGET_AFTER = 300.0  # drop an object nobody has looked at for this long
DOUBT_HITS = 5  # looks at an unconfirmed candidate that stays put before it is doubtful
DOUBT_MEMORY = 120.0  # seconds a doubtful candidate's place is remembered after it goes
DOUBT_IOU = 0.5  # a new candidate this close to a remembered place starts doubtful
# A second, looser look for a confirmed object the first pass left without a sighting
# (seen at the previous look): a sighting whose centre lies within this many box
# diagonals (the bigger of the two boxes) of where it was expected is it, re-found.
REFIND_REACH = 1.0
REFIND_STILL_OVERLAP = 0.5  # of the smaller box, for one that never left its first place
RESIZE_FACTOR = 2.0  # a box whose area changes more than this between sightings was
# partly hidden or partly seen (someone walked in front): its centre's jump is no motion
# Someone walking in front of a person splits them in two for the model: head and
# shoulders above the passer-by, the body beside them. The object's own sighting is a piece
# (smaller than it was seen whole), and a sighting nobody claimed that touches it is its
# other piece when one of the two is a head (at most HEAD_PIECE of its height, at the top,
# at least HEAD_WIDTH of its width) above the other, which reaches down to its feet, and
# together they are no bigger than the object seen whole (the model's boxes of one walker
# vary: the widest and tallest of its recent whole sightings, this much wider and taller).
PIECE_AREA = 0.75
HEAD_PIECE = 0.45
HEAD_WIDTH = 0.3
PIECES_WIDER = 1.5
PIECES_TALLER = 1.3
WHOLE_SIGHTINGS = 10

# Labels that keep an event alive while they stand still (a person lingering
# at a door matters; a parked car does not).
ALIVE_WHEN_STILL = frozenset({"person"})
# A second box the model drew on an object it also saw in the same look: at least this
# much of the smaller box inside the object's box, and of a similar height.
DUPLICATE_INSIDE = 0.6
DUPLICATE_HEIGHT = 0.6


@dataclass
class TrackedObject:
    id: str
    label: str
    box: Box
    first_seen: float
    last_seen: float
    scores: deque[float] = field(default_factory=lambda: deque(maxlen=10))
    top_score: float = 0.0
    hits: int = 0
    confirmed: bool = False
    moved: bool = False
    stationary: bool = False
    velocity: tuple[float, float] = (0.0, 0.0)
    origin: tuple[float, float] = (0.0, 0.0)
    origin_box: Box = (0, 0, 0, 0)
    # (width, height) of its recent sightings as a whole (not in pieces)
    whole: deque[tuple[int, int]] = field(default_factory=lambda: deque(maxlen=WHOLE_SIGHTINGS))
    anchor: tuple[float, float] = (0.0, 0.0)
    anchor_time: float = 0.0
    zones: list[str] = field(default_factory=list)  # where it is now
    entered_zones: list[str] = field(default_factory=list)  # everywhere it has been
    zone_since: dict[str, float] = field(default_factory=dict)
    zone_last_in: dict[str, float] = field(default_factory=dict)
    loitering: bool = False
    loitering_zones: list[str] = field(default_factory=list)
    path: list[tuple[float, float, float]] = field(default_factory=list)  # (t, x, y)
    missing_since: float | None = None
    last_checked: float = 0.0
    changed_since_check: bool = True  # motion where it stands since its last look
    event_id: str | None = None
    ignore_if_still: bool = False  # label in objects.ignore_still_from_start
    zone_out_since: dict[str, float] = field(default_factory=dict)  # first sighting outside

    @property
    def score(self) -> float:
        return statistics.median(self.scores) if self.scores else 0.0

    @property
    def area(self) -> int:
        return max(0, self.box[2] - self.box[0]) * max(0, self.box[3] - self.box[1])

    @property
    def bottom_center(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, float(self.box[3]))

    @property
    def relevant(self) -> bool:
        """Real, and not a parked vehicle that has never left its first place."""
        return self.confirmed and not self.parked

    @property
    def parked(self) -> bool:
        """A confirmed vehicle that has never left its first place."""
        return self.confirmed and self.ignore_if_still and not self.moved

    @property
    def active(self) -> bool:
        """Real and moving (recording activity, opening events)."""
        return self.relevant and not self.stationary

    @property
    def keeps_event_alive(self) -> bool:
        """May open an event and keep it open: moving, or a person standing still."""
        return self.active or (self.relevant and self.label in ALIVE_WHEN_STILL)

    def predicted_box(self, now: float) -> Box:
        dt = min(max(now - self.last_seen, 0.0), 2.0)
        dx, dy = self.velocity[0] * dt, self.velocity[1] * dt
        x1, y1, x2, y2 = self.box
        return (int(x1 + dx), int(y1 + dy), int(x2 + dx), int(y2 + dy))


@dataclass(frozen=True, slots=True)
class TrackUpdate:
    """What changed in one frame; the event manager reacts to it."""

    time: float
    seen: list[TrackedObject]
    new: list[TrackedObject]
    removed: list[TrackedObject]
    present: list[TrackedObject] = field(default_factory=list)  # every object still tracked


def _diagonal(box: Box) -> float:
    return float(((box[2] - box[0]) ** 2 + (box[3] - box[1]) ** 2) ** 0.5)


def _centre_distance(a: Box, b: Box) -> float:
    return float((((a[0] + a[2]) - (b[0] + b[2])) ** 2
                  + ((a[1] + a[3]) - (b[1] + b[3])) ** 2) ** 0.5 / 2)


def _movement_threshold(area: float) -> float:
    return max(0.25 * area**0.5, 6.0)


class Tracker:
    def __init__(self, camera: CameraConfig) -> None:
        self.camera = camera
        self.min_frames = camera.detect.min_frames
        self.max_disappeared = camera.detect.max_disappeared
        self.stationary_seconds = camera.detect.stationary_seconds
        self.zones = [Zone.from_config(z) for z in camera.zones.values()]
        self.ignore_still = frozenset(camera.objects.ignore_still_from_start)
        # A zone timer restarts only after the object was seen outside for this long; at a
        # low detect.fps one look outside already spans more than ZONE_GRACE.
        self.zone_grace = max(ZONE_GRACE, 2.0 / camera.detect.fps)
        # Re-finding is for one seen at the previous look (not for a still person looked
        # at every few seconds, beside whom a passer-by is someone else).
        self.refind_within = max(1.0, 1.5 / camera.detect.fps)
        self.min_speed_dt = 0.4 / camera.detect.fps
        self.tracks: dict[str, TrackedObject] = {}
        self.filtered = 0  # detections dropped by score/area/mask filters
        # Places of doubtful candidates that went: (label, box, forget at).
        self._doubted: list[tuple[str, Box, float]] = []

    def passes_filter(self, det: Detection) -> bool:
        f: ObjectFilter = self.camera.objects.filter_for(det.label)
        if det.score < f.min_score or not f.min_area <= det.area <= f.max_area:
            return False
        x, y = det.bottom_center
        return not any(point_in_polygon(x, y, poly) for poly in f.mask)

    def due_looks(self, now: float) -> tuple[list[Box], list[Box]]:
        """Where objects worth a look without motion around them are expected: candidates
        not yet confirmed (each look counts towards reporting them), and the others."""
        doubtful: list[Box] = []
        known: list[Box] = []
        for t in self.tracks.values():
            if not t.stationary:
                # A candidate looked for and not found is likelier a ghost than a person:
                # it waits its turn like the others until it is seen again or dropped.
                sure = t.confirmed or t.missing_since is not None
                (known if sure else doubtful).append(t.predicted_box(now))
            elif now - t.last_checked >= self._recheck_interval(t):
                known.append(t.box)
        return doubtful, known

    def _recheck_interval(self, t: TrackedObject) -> float:
        if not t.parked:
            return STATIONARY_RECHECK
        if t.changed_since_check or self._motion_blind(t):
            return PARKED_RECHECK
        return PARKED_QUIET_RECHECK

    def _motion_blind(self, t: TrackedObject) -> bool:
        """Where the motion mask hides it, motion cannot tell that it left."""
        x, y = (t.box[0] + t.box[2]) / 2, (t.box[1] + t.box[3]) / 2
        return any(point_in_polygon(x, y, poly) for poly in self.camera.motion.mask)

    def motion_seen(self, boxes: list[Box], everywhere: bool = False) -> None:
        """What the motion detector saw on a sample (``everywhere``: it relearnt the
        scene, a lighting change that would hide anything else)."""
        for t in self.tracks.values():
            if t.parked and not t.changed_since_check and (
                    everywhere or any(intersection(t.box, b) > 0 for b in boxes)):
                t.changed_since_check = True

    def regions_to_check(self, now: float) -> list[Box]:
        """Boxes of objects worth looking at even without motion around them."""
        doubtful, known = self.due_looks(now)
        return doubtful + known

    def update(self, detections: list[Detection], now: float,
               checked: list[Box]) -> TrackUpdate:
        dets = [d for d in detections if self.passes_filter(d)]
        self.filtered += len(detections) - len(dets)
        pairs: list[tuple[float, str, int]] = []
        for tid, t in self.tracks.items():
            pred = t.predicted_box(now)
            diag = max(_diagonal(pred), 1.0)
            for i, d in enumerate(dets):
                if d.label != t.label:
                    continue
                overlap = iou(pred, d.box)
                dist = _centre_distance(pred, d.box) / diag
                if overlap < 0.05 and dist > 0.6:
                    continue
                pairs.append((overlap - 0.5 * dist, tid, i))
        pairs.sort(reverse=True)
        used_tracks: set[str] = set()
        used_dets: set[int] = set()
        matched: dict[str, Detection] = {}
        for _, tid, i in pairs:
            if tid in used_tracks or i in used_dets:
                continue
            used_tracks.add(tid)
            used_dets.add(i)
            matched[tid] = dets[i]
        for tid, i in self._refind(dets, now, used_tracks, used_dets):
            used_tracks.add(tid)
            used_dets.add(i)
            matched[tid] = dets[i]
        pieced: set[str] = set()
        for i, d in enumerate(dets):
            if i not in used_dets and (owner := self._piece_of(d, matched)) is not None:
                used_dets.add(i)
                pieced.add(owner)
                m = matched[owner]
                matched[owner] = Detection(m.label, max(m.score, d.score),
                                           union(m.box, d.box), m.region)
        seen: list[TrackedObject] = []
        for tid, d in matched.items():
            t = self.tracks[tid]
            self._observe(t, self._past_the_cut(t, d, now), now, pieces=tid in pieced)
            seen.append(t)

        new: list[TrackedObject] = []
        # The look's sightings a further box could be a second drawing of: those matched
        # to objects, and the new candidates (surest first), so a newcomer the model drew
        # twice is one candidate, not two that each take one of the next look's boxes.
        claimed = list(matched.values())
        for i in sorted(range(len(dets)), key=lambda i: -dets[i].score):
            d = dets[i]
            if i in used_dets or _duplicate(d, claimed):
                continue
            claimed.append(d)
            t = TrackedObject(id=secrets.token_hex(4), label=d.label, box=d.box,
                              first_seen=now, last_seen=now,
                              ignore_if_still=d.label in self.ignore_still)
            t.origin = t.anchor = d.bottom_center
            t.origin_box = d.box
            t.anchor_time = now
            self._observe(t, d, now, first=True)
            t.stationary = self._was_doubted(t, now)
            self.tracks[t.id] = t
            new.append(t)
            seen.append(t)

        removed: list[TrackedObject] = []
        for tid, t in list(self.tracks.items()):
            if tid in used_tracks or t in new:
                continue
            looked = any(intersection(t.box, r) >= 0.6 * max(t.area, 1) for r in checked)
            if looked:
                t.last_checked = now
                t.changed_since_check = False
                if t.missing_since is None:
                    t.missing_since = now
            # Unconfirmed candidates (likely ghosts) are dropped sooner than real objects.
            patience = self.max_disappeared if t.confirmed else min(1.0, self.max_disappeared)
            missing = t.missing_since is not None and now - t.missing_since >= patience
            if missing or now - t.last_seen > FORGET_AFTER:
                removed.append(self.tracks.pop(tid))
                if not t.confirmed and t.stationary:
                    self._doubted.append((t.label, t.box, now + DOUBT_MEMORY))
        return TrackUpdate(now, seen, new, removed, list(self.tracks.values()))

    def _past_the_cut(self, t: TrackedObject, d: Detection, now: float) -> Detection:
        """``d`` where its region's edge cut it, reaching as far past that edge as ``t``
        is expected to: the model did not see that part, so it has not changed. (A square
        that cuts a parked car in half otherwise makes the car 'move' into a people's
        event.)"""
        cut = cut_sides(d, self.camera.detect.width, self.camera.detect.height)
        if not any(cut):
            return d
        x1, y1, x2, y2 = d.box
        rx1, ry1, rx2, ry2 = d.region
        px1, py1, px2, py2 = t.predicted_box(now)
        box = (min(x1, px1) if cut[0] and px1 < rx1 else x1,
               min(y1, py1) if cut[1] and py1 < ry1 else y1,
               max(x2, px2) if cut[2] and px2 > rx2 else x2,
               max(y2, py2) if cut[3] and py2 > ry2 else y2)
        return d if box == d.box else Detection(d.label, d.score, box, d.region)

    def _was_doubted(self, t: TrackedObject, now: float) -> bool:
        """A new candidate where a doubtful one stood: doubtful from the start."""
        self._doubted = [d for d in self._doubted if d[2] > now]
        return any(label == t.label and iou(box, t.box) >= DOUBT_IOU
                   for label, box, _ in self._doubted)

    def _piece_of(self, d: Detection, matched: dict[str, Detection]) -> str | None:
        """The confirmed object seen in pieces now of which ``d`` is the other piece.

        Never two people: the object's own sighting must be a piece of it (a person seen
        whole with another's head above them is two people), the two must touch, one must
        be a head above the other (two people side by side, or one behind the other, are
        each about a person tall), and together be no bigger than the object seen whole;
        anyone else starts a track of their own."""
        best: tuple[int, str] | None = None
        for tid, m in matched.items():
            t = self.tracks[tid]
            if m.label != d.label or not t.confirmed or not t.whole:
                continue
            ww, wh = max(w for w, _ in t.whole), max(h for _, h in t.whole)
            gap = max(max(m.box[0], d.box[0]) - min(m.box[2], d.box[2]),
                      max(m.box[1], d.box[1]) - min(m.box[3], d.box[3]))
            both = union(m.box, d.box)
            uw, uh = both[2] - both[0], both[3] - both[1]
            head, body = sorted((m.box, d.box), key=lambda b: b[3] - b[1])
            is_head = (head[3] - head[1] <= HEAD_PIECE * wh and head[2] - head[0] >= HEAD_WIDTH * ww
                       and head[1] - both[1] <= 0.1 * wh and both[3] - body[3] <= 0.05 * wh)
            if (is_head and m.area < PIECE_AREA * ww * wh and gap <= 0.1 * wh
                    and uw <= PIECES_WIDER * ww and uh <= PIECES_TALLER * wh
                    and (best is None or uw * uh < best[0])):
                best = (uw * uh, tid)
        return best[1] if best else None

    def _refind(self, dets: list[Detection], now: float, used_tracks: set[str],
                used_dets: set[int]) -> list[tuple[str, int]]:
        """Confirmed objects the first pass missed, paired with sightings nobody claimed.

        When someone walks in front of a person, the model sees only their head and
        shoulders, then the whole person again: the box shrinks and grows back, and its
        centre jumps by half a body. Measured against the shrunken box that jump looks too
        far for the same person, and a second track would start for them. Measured against
        the bigger of the two boxes it is near: the person is re-found. Only where the
        object was expected to be in view: one who walked out is not the next who walks in."""
        spare = [i for i in range(len(dets)) if i not in used_dets]
        if not spare:
            return []
        width, height = self.camera.detect.width, self.camera.detect.height
        pairs: list[tuple[float, str, int]] = []
        for tid, t in self.tracks.items():
            if tid in used_tracks or not t.confirmed or now - t.last_seen > self.refind_within:
                continue
            pred = t.predicted_box(now)
            pcx, pcy = (pred[0] + pred[2]) / 2, (pred[1] + pred[3]) / 2
            if not (0 <= pcx <= width and 0 <= pcy <= height):
                continue
            for i in spare:
                d = dets[i]
                if d.label != t.label:
                    continue
                reach = max(_diagonal(pred), _diagonal(d.box), 1.0)
                dist = _centre_distance(pred, d.box) / reach
                # One that has not left its first place is re-found only where it is
                # (a parked car is not the car parked beside it).
                area = min(box_area(pred), d.area)
                if not t.moved and intersection(pred, d.box) < REFIND_STILL_OVERLAP * area:
                    continue
                if dist <= REFIND_REACH:
                    pairs.append((dist, tid, i))
        pairs.sort()
        found: list[tuple[str, int]] = []
        tracks: set[str] = set()
        taken: set[int] = set()
        for _, tid, i in pairs:
            if tid not in tracks and i not in taken:
                tracks.add(tid)
                taken.add(i)
                found.append((tid, i))
        return found

    def forget_all(self, now: float) -> TrackUpdate:
        """Detection switched off: nobody is known to be there any more."""
        removed = list(self.tracks.values())
        self.tracks.clear()
        return TrackUpdate(now, [], [], removed, [])

    def _observe(self, t: TrackedObject, d: Detection, now: float, first: bool = False,
                 pieces: bool = False) -> None:
        w, h = d.box[2] - d.box[0], d.box[3] - d.box[1]
        # Its size seen whole: a box that shrank at once is part of it (someone in front);
        # one that shrinks slowly is walking away. Pieces put together are not its size.
        if not pieces and (not t.whole or w * h >= 0.7 * t.whole[-1][0] * t.whole[-1][1]):
            t.whole.append((w, h))
        if not first:
            dt = now - t.last_seen
            ratio = max(d.area, 1) / max(t.area, 1)
            # Speed over less than half a sampling interval is noise over nothing (two
            # frames that arrived together): a box's jitter would become a leap.
            if dt >= self.min_speed_dt and 1 / RESIZE_FACTOR <= ratio <= RESIZE_FACTOR:
                ocx, ocy = (t.box[0] + t.box[2]) / 2, (t.box[1] + t.box[3]) / 2
                ncx, ncy = (d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2
                vx, vy = (ncx - ocx) / dt, (ncy - ocy) / dt
                t.velocity = (0.5 * t.velocity[0] + 0.5 * vx, 0.5 * t.velocity[1] + 0.5 * vy)
        t.box = d.box
        t.last_seen = now
        t.last_checked = now
        t.changed_since_check = False
        t.missing_since = None
        t.scores.append(d.score)
        t.top_score = max(t.top_score, d.score)
        t.hits += 1
        f = self.camera.objects.filter_for(t.label)
        if not t.confirmed and t.hits >= self.min_frames and t.score >= f.threshold:
            t.confirmed = True
        x, y = t.bottom_center
        threshold = _movement_threshold(t.area)
        # Moved = left its first place: far enough, and the box no longer overlaps it much
        # (a parked car half hidden by a passer-by changes its box, not its place).
        if (not t.moved
                and ((x - t.origin[0]) ** 2 + (y - t.origin[1]) ** 2) ** 0.5 > threshold
                and iou(t.box, t.origin_box) < 0.4):
            t.moved = True
        # Stationary: has not left a small neighbourhood for stationary_seconds.
        if ((x - t.anchor[0]) ** 2 + (y - t.anchor[1]) ** 2) ** 0.5 > threshold:
            t.anchor, t.anchor_time = (x, y), now
            t.stationary = False
        elif now - t.anchor_time >= self.stationary_seconds or (
                not t.confirmed and t.hits >= DOUBT_HITS and t.anchor_time == t.first_seen):
            t.stationary = True  # still, or a candidate that stays put and stays unsure
        zones_before, entered_before = t.zones, len(t.entered_zones)
        self._zones(t, now)
        # A point a second, and one wherever it entered or left a zone: the path shows
        # how it got into the zones it is listed in.
        if (not t.path or now - t.path[-1][0] >= PATH_INTERVAL or t.zones != zones_before
                or len(t.entered_zones) != entered_before):
            t.path.append((round(now, 2), round(x, 1), round(y, 1)))
            if len(t.path) > PATH_MAX:
                del t.path[1 : len(t.path) - PATH_MAX + 1]

    def _zones(self, t: TrackedObject, now: float) -> None:
        # Time in a zone runs from the first sighting inside and survives the gaps between
        # looks (stationary objects are looked at every STATIONARY_RECHECK seconds): only
        # being seen outside for zone_grace restarts it.
        point = t.bottom_center
        current = []
        for z in self.zones:
            if z.contains(t.label, point):
                current.append(z.name)
                out_since = t.zone_out_since.pop(z.name, None)
                if (z.name not in t.zone_last_in
                        or (out_since is not None and now - out_since > self.zone_grace)):
                    t.zone_since[z.name] = now
                t.zone_last_in[z.name] = now
                if t.confirmed and z.name not in t.entered_zones:
                    t.entered_zones.append(z.name)
                if (z.loitering_time > 0 and t.confirmed
                        and now - t.zone_since[z.name] >= z.loitering_time
                        and z.name not in t.loitering_zones):
                    t.loitering_zones.append(z.name)
                    t.loitering = True
            elif z.name in t.zone_last_in:
                t.zone_out_since.setdefault(z.name, now)
        t.zones = current

    def counts(self) -> dict[str, int]:
        """Confirmed objects in view per label (for status sensors)."""
        out: dict[str, int] = {}
        for t in self.tracks.values():
            if t.confirmed:
                out[t.label] = out.get(t.label, 0) + 1
        return out


def _duplicate(d: Detection, sightings: Iterable[Detection]) -> bool:
    """``d`` is a second box on an object seen in the same look, known or new (the
    model's boxes on one person that merging keeps: IoU 0.34, two thirds of the smaller
    inside the other). As a candidate it would take that object's next sighting, and the
    object would go unseen until the candidate is dropped. Someone half hidden behind
    another is rarely that far inside their box at a similar height; only a new sighting
    is held back (people tracked apart keep their tracks when they overlap), and one who
    first appears that deep inside another's box starts a track when they step out of it."""
    for m in sightings:
        if m.label != d.label:
            continue
        short, tall = sorted((m.box[3] - m.box[1], d.box[3] - d.box[1]))
        smaller = min(box_area(m.box), box_area(d.box))
        if (short >= DUPLICATE_HEIGHT * tall
                and intersection(m.box, d.box) >= DUPLICATE_INSIDE * max(smaller, 1.0)):
            return True
    return False
