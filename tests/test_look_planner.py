"""The look planner: a crowd costs fewer inferences, and nobody waits for a look.

Boxes stand in for motion and tracked people at the project footage's frame size
(768x576, model input 300); the recall bench (scripts/bench_recall.py) measures the
same planner on the real footage against an exhaustive search.
"""

from __future__ import annotations

import pytest

from vigil_engine.detect.planner import MAX_REGIONS, LookPlanner
from vigil_engine.detect.regions import box_area, intersection
from vigil_engine.detect.types import Box

W, H, MODEL, FPS = 768, 576, 300, 5.0
WHOLE: Box = (0, 0, W, H)


def people(xs: range, ys: range) -> list[Box]:
    """Walkers' motion boxes, 24x50 px, on a grid."""
    return [(x, y, x + 24, y + 50) for y in ys for x in xs]


def seen_close(box: Box, regions: list[Box]) -> bool:
    """Inside a square the model saw at (near) native scale."""
    return any(r != WHOLE and intersection(box, r) == box_area(box) for r in regions)


def assert_seen_within(crowd: list[Box], plans: list[list[Box]], samples: int) -> None:
    """Each of ``crowd`` is seen up close at least once in every ``samples`` samples."""
    last_seen = dict.fromkeys(crowd, -1)
    for i, regions in enumerate(plans):
        assert len(regions) <= MAX_REGIONS
        for b in crowd:
            if seen_close(b, regions):
                last_seen[b] = i
            assert i - last_seen[b] < samples, f"{b} unseen for {samples} samples at {i}"


def test_a_crowd_costs_fewer_looks_and_every_part_is_seen_within_four_samples() -> None:
    planner = LookPlanner(W, H, MODEL, FPS)
    # Four groups far apart: four squares, each with people moving in it.
    crowd = [(x, y, x + 24, y + 50) for x in (40, 600) for y in (40, 460)]
    plans = [planner.plan(crowd, [], crowd, i / FPS) for i in range(50)]  # 10 s
    # Every walker seen up close at least every 0.8 s: the tracker follows them between.
    assert_seen_within(crowd, plans, 4)
    # Each square on every sample was four inferences per sample (it was: a squeezed
    # whole frame plus the three biggest squares, every sample); two squares per sample
    # was 2.6.
    assert sum(len(r) for r in plans) / len(plans) <= 1.5
    # The whole frame, squeezed, once a second (for people too big for the squares).
    assert [i for i, r in enumerate(plans) if WHOLE in r] == list(range(0, 50, 5))


def test_in_a_crowd_everywhere_no_part_waits_long() -> None:
    planner = LookPlanner(W, H, MODEL, FPS)
    crowd = people(range(20, 740, 120), range(40, 520, 160))  # 24 people, everywhere
    plans = [planner.plan(crowd, [], [], i / FPS) for i in range(50)]
    # The squeezed whole frame plus three squares on every sample left most of these
    # people unlooked-at for as long as the crowd stayed.
    assert_seen_within(crowd, plans, 4)


def test_someone_walking_into_a_quiet_part_is_looked_at_at_once() -> None:
    planner = LookPlanner(W, H, MODEL, FPS)
    crowd = people(range(0, 360, 90), range(40, 520, 120))  # the left half is busy
    for i in range(15):
        planner.plan(crowd, [], [], i / FPS)
    newcomer: Box = (700, 300, 730, 370)  # the first motion on the right for 3 s
    regions = planner.plan([*crowd, newcomer], [], [], 15 / FPS)
    assert seen_close(newcomer, regions)


def test_a_candidate_not_yet_confirmed_is_looked_at_on_every_sample() -> None:
    planner = LookPlanner(W, H, MODEL, FPS)
    crowd = people(range(0, 740, 120), range(40, 520, 160))
    candidate: Box = (400, 250, 424, 300)
    for i in range(20):
        regions = planner.plan(crowd, [candidate], [], i / FPS)
        assert seen_close(candidate, regions), f"candidate skipped at sample {i}"


def test_a_quiet_camera_is_looked_at_on_every_sample() -> None:
    planner = LookPlanner(W, H, MODEL, FPS)
    for i in range(50):
        walker: Box = (10 + 12 * i, 300, 40 + 12 * i, 380)
        parked: Box = (600, 40, 700, 100)
        regions = planner.plan([walker], [], [parked] if i % 25 == 0 else [], i / FPS)
        assert seen_close(walker, regions)
        assert WHOLE not in regions  # nothing to squeeze the whole frame for
        assert len(regions) <= 2


def test_a_squeezed_look_does_not_count_as_seeing_small_people() -> None:
    planner = LookPlanner(W, H, MODEL, FPS)
    planner.looked([WHOLE], 0.0)  # a connect scan's squeezed frame
    walker: Box = (100, 100, 124, 150)
    assert planner.unseen_for(walker, 0.2) == float("inf")
    planner.looked([(0, 0, 300, 300)], 0.2)
    assert abs(planner.unseen_for(walker, 0.4) - 0.2) < 1e-9


@pytest.mark.parametrize("gap", [0.8, 1.2])
def test_an_engine_that_falls_behind_does_not_look_at_more_per_sample(gap: float) -> None:
    """Thirty-two cameras on two cores: a busy camera got a sample every 0.8 s, then every
    1.2 s, instead of every 0.2 s. Every square had then waited 'long enough' on every
    sample, so each sample cost the most it could (3.3 looks) and the engine fell further
    behind."""
    planner = LookPlanner(W, H, MODEL, FPS)
    crowd = [(x, y, x + 24, y + 50) for x in (40, 600) for y in (40, 460)]
    plans = [planner.plan(crowd, [], crowd, i * gap) for i in range(30)]
    assert_seen_within(crowd, plans, 4)
    assert sum(len(r) for r in plans[5:]) / len(plans[5:]) <= 1.5
    # The whole frame once in five samples, as at the camera's own pace.
    assert sum(WHOLE in r for r in plans[5:]) <= 6


def test_motion_a_tracked_walker_explains_waits_its_turn_and_a_stranger_does_not() -> None:
    """A walker the tracker follows makes motion wherever they go. That motion is them,
    not someone new: it waits for their square's turn, even on an engine so far behind
    that every part has gone unseen for over a second. Motion nobody explains, in such a
    part, is looked at on the sample it appears."""
    planner = LookPlanner(W, H, MODEL, FPS)
    crowd = [(x, y, x + 24, y + 50) for x in (40, 600) for y in (40, 460)]
    for i in range(10):
        planner.plan(crowd, [], crowd, i * 0.8)
    stranger: Box = (330, 250, 354, 300)
    regions = planner.plan([*crowd, stranger], [], crowd, 10 * 0.8)
    assert seen_close(stranger, regions)
    # Not every walker's square at once: 4 looks (the most a sample may have) before.
    assert len([r for r in regions if r != WHOLE]) <= 2


def test_two_people_among_scattered_motion_are_each_seen_every_other_sample() -> None:
    """Two walkers plus shadows and leaves make five squares: still two people, whose
    tracks each look keeps apart when they cross, so they get the close cadence (a crowd's
    one square per sample lost a walker's identity while the other hid them)."""
    planner = LookPlanner(W, H, MODEL, FPS)
    plans = []
    for i in range(50):
        walkers: list[Box] = [(40 + 10 * i, 300, 64 + 10 * i, 350),
                              (700 - 10 * i, 320, 724 - 10 * i, 370)]
        noise: list[Box] = [(50, 20, 70, 40), (700, 20, 720, 40), (380, 540, 400, 560)]
        plans.append((walkers, planner.plan([*walkers, *noise], [], walkers, i / FPS)))
    for i, (walkers, regions) in enumerate(plans[1:], 1):
        for k, walker in enumerate(walkers):
            assert seen_close(walker, regions) or seen_close(plans[i - 1][0][k], plans[i - 1][1])
