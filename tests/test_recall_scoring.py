"""The recall bench's scoring: what counts as the pipeline having someone.

The engine looks at someone it follows up to about a second apart and reports them
where the tracker predicts them in between. The recall bench credits that, for recall
only and only for that second; a prediction never turns a false track into a true one.
"""

from __future__ import annotations

from pathlib import Path

from scripts.bench_recall import Track, _confirmed, camera_config, score
from vigil_engine.detect.types import Box, Detection
from vigil_engine.track.tracker import Tracker

FPS = 5.0


def walker(t0: float, t1: float, x0: int = 100, speed: float = 50.0) -> dict[float, Box]:
    """A 30x80 px person walking right at ``speed`` px/s, one box per 0.2 s."""
    out: dict[float, Box] = {}
    t = t0
    while t <= t1 + 1e-9:
        x = int(x0 + speed * t)
        out[round(t, 3)] = (x, 200, x + 30, 280)
        t += 1 / FPS
    return out


def test_a_fragment_seen_only_between_looks_is_found_and_said_so() -> None:
    # The reference split one walker in two at 5.2 s; the pipeline last looked at 5.0 s.
    ref = [Track("person", walker(0.0, 5.0)), Track("person", walker(5.2, 5.6))]
    followed = Track("person", walker(0.4, 5.0), between_looks=walker(5.2, 5.6))
    r = score(ref, [followed], min_height=40, tolerance=1 / FPS)
    assert (r["found"], r["reference_tracks"], r["found_between_looks"]) == (2, 2, 1)
    assert r["missed"] == []

    # Without the tracker's predictions the fragment is a miss, as before.
    r = score(ref, [Track("person", walker(0.4, 5.0))], min_height=40, tolerance=1 / FPS)
    assert r["found"] == 1
    assert r["missed"][0]["from_s"] == 5.2


def test_a_prediction_never_makes_a_false_track_true() -> None:
    ref = [Track("person", walker(0.0, 3.0))]
    # Seen only far away from the reference's person, predicted onto them.
    ghost = Track("person", walker(0.0, 1.0, x0=600), between_looks=walker(1.2, 2.0))
    r = score(ref, [ghost], min_height=40, tolerance=1 / FPS)
    assert r["false_tracks"] == 1
    assert r["false"][0]["at"][0] > 600


def test_the_pipeline_is_credited_for_at_most_a_second_after_a_sighting(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.touch()  # the configuration wants the input to exist; nothing decodes it here
    cam = camera_config(clip, 768, 576, FPS, tmp_path)
    tracker = Tracker(cam)
    out: dict[str, Track] = {}
    seen = walker(0.0, 2.0)
    t = 0.0
    while t <= 5.0:
        now = round(t, 3)
        box = seen.get(now)
        dets = [Detection("person", 0.9, box, (0, 0, 768, 576))] if box else []
        tracker.update(dets, now, [(0, 0, 768, 576)] if box else [])
        _confirmed(tracker, out, now, follow_for=1.0)
        t += 1 / FPS
    (track,) = out.values()
    assert max(track.boxes) == 2.0
    assert track.between_looks, "the followed walker had no predicted place after 2.0 s"
    assert min(track.between_looks) > 2.0
    assert max(track.between_looks) <= 3.0
    # Predicted where they walk: to the right of the last sighting.
    assert track.between_looks[max(track.between_looks)][0] > track.boxes[2.0][0]
