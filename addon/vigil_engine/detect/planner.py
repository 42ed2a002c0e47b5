"""Which squares the model looks at in this sample: the most overdue first, within a budget.

A crowd keeps motion everywhere. Looking at every square around it on every sample
cost 3.8 inferences per sample on the project's busy footage. Someone the tracker
follows has not gone anywhere it cannot follow between two looks: it predicts where
they walk and re-finds them at the next look. So a busy camera looks at a budget of
squares per sample, those whose pixels have gone unseen longest, and any square
unseen for a few samples (when more are due than MAX_REGIONS, those that waited
longest go first). With a few people (two crossing, one half hiding the other) each
look decides whose track is whose: two squares per sample, each seen every other
sample. A crowd (CROWD tracked objects or more) gets one square per sample, each seen
within four samples (0.8 s at 5 fps). These never wait:
- motion where the model has not looked for a while and that no tracked object
  explains (someone walking into a quiet part of the scene);
- candidates not yet confirmed (a person is reported only after a few sightings);
- a camera with at most QUIET squares (a person or two), looked at on every sample.
Once a second a busy camera also looks at the whole frame, squeezed: it finds people
too big for the squares (close to the camera) and objects that stand still.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .regions import MAX_REGIONS, box_area, intersection, plan_regions
from .types import Box

CELL = 16  # px: the grain of "when did the model last look here"
QUIET = 2  # a camera with no more squares than this gets them all on every sample
CROWD = 4  # tracked objects from which a camera is a crowd
# Squares per sample a busy camera always gets, and after how many samples unseen a
# square is due: a few people (crossing, one half hiding the other) are looked at
# closely, as each look decides whose track is whose; a crowd at a third of the cost.
BUDGET, KNOWN_EVERY = 2, 1.5
CROWD_BUDGET, CROWD_KNOWN_EVERY = 1, 3.5
NEW_AFTER = 1.0  # s: motion where the model has not looked for this long is new
EXPLAINED = 0.5  # of a motion box inside a tracked object's expected box: that object moved
WHOLE_FRAME_EVERY = 1.0  # s: the squeezed whole frame, on a busy camera
PAUSE = 3.0  # s between samples planned: a pause in activity, not the camera's pace
LOOKS_CLOSE = 1.5  # a square up to this times the model input still shows small people


class LookPlanner:
    """Remembers when the model last looked at each part of one camera's frame."""

    def __init__(self, width: int, height: int, model_size: int, fps: float) -> None:
        self.width, self.height, self.model_size = width, height, model_size
        self.interval = 1.0 / fps
        self._last_plan = -math.inf
        self._pace = self.interval  # s between samples, lately (more when behind)
        self._seen = np.full((math.ceil(height / CELL), math.ceil(width / CELL)), -math.inf)
        self._whole_frame = -math.inf

    def _cells(self, box: Sequence[float]) -> tuple[slice, slice]:
        """The cells whose centres lie in ``box`` (at least the one holding its centre)."""
        rows, cols = self._seen.shape

        def span(lo: float, hi: float, n: int) -> slice:
            first, end = math.ceil((lo - CELL / 2) / CELL), math.ceil((hi - CELL / 2) / CELL)
            if end <= first:  # narrower than a cell
                first = int((lo + hi) / 2 // CELL)
                end = first + 1
            return slice(min(max(first, 0), n - 1), min(max(end, 1), n))

        return span(box[1], box[3], rows), span(box[0], box[2], cols)

    def unseen_for(self, box: Sequence[float], now: float) -> float:
        """Seconds since the model last saw all of ``box`` up close (inf: never)."""
        return now - float(self._seen[self._cells(box)].min())

    def looked(self, regions: Sequence[Box], now: float) -> None:
        """The model saw these squares now (squeezed ones do not show small people)."""
        for region in regions:
            if region[2] - region[0] <= LOOKS_CLOSE * self.model_size:
                self._seen[self._cells(region)] = now

    def _pace_of(self, now: float) -> float:
        """Seconds between this camera's samples lately: the detect interval, or more
        when the engine falls behind."""
        gap = now - self._last_plan
        self._last_plan = now
        if gap < PAUSE:
            self._pace += 0.3 * (gap - self._pace)
        return max(self.interval, self._pace)

    def plan(self, motion: Sequence[Box], doubtful: Sequence[Box], known: Sequence[Box],
             now: float) -> list[Box]:
        """Squares to look at now, around motion, unconfirmed candidates and known
        objects due a look; they are noted as looked at."""
        # Due after so many samples, not seconds: when the engine falls behind (samples
        # further apart), a rule in seconds would make every square due on every sample,
        # each sample would cost the most it may, and the engine would fall further behind
        # (32 cameras on two cores: busy cameras at 3.3 looks per sample, 1 sample a second).
        pace = self._pace_of(now)
        crowd = len(doubtful) + len(known) >= CROWD
        budget, every = (CROWD_BUDGET, CROWD_KNOWN_EVERY) if crowd else (BUDGET, KNOWN_EVERY)
        revisit = every * pace
        boxes = [*motion, *doubtful, *known]
        if not boxes:
            return []
        squares = plan_regions(boxes, self.width, self.height, self.model_size)
        tracked = [*doubtful, *known]
        waited = [0.0] * len(squares)
        urgent = [False] * len(squares)
        for i, box in enumerate(boxes):
            k = max(range(len(squares)), key=lambda j: intersection(squares[j], box))
            age = self.unseen_for(box, now)
            waited[k] = max(waited[k], age)
            if i < len(motion):
                urgent[k] = urgent[k] or (age >= NEW_AFTER and not _explained(box, tracked))
            elif i < len(motion) + len(doubtful):
                urgent[k] = True
        order = sorted(range(len(squares)), key=lambda j: (urgent[j], waited[j]), reverse=True)
        quiet = len(squares) <= QUIET
        chosen = [squares[j] for n, j in enumerate(order)
                  if quiet or n < budget or urgent[j] or waited[j] >= revisit]
        whole: list[Box] = []
        if not quiet and now - self._whole_frame >= WHOLE_FRAME_EVERY * pace / self.interval:
            self._whole_frame = now
            whole = [(0, 0, self.width, self.height)]
        # What is left out has waited longest at the next sample.
        chosen = chosen[:MAX_REGIONS - len(whole)]
        self.looked(chosen, now)
        return whole + chosen


def _explained(motion: Box | Sequence[float], tracked: Sequence[Box]) -> bool:
    """Most of ``motion`` lies where a tracked object is expected: it is that object
    walking on, which its square's turn will cover, not someone new."""
    need = EXPLAINED * box_area(motion)
    return any(intersection(motion, t) >= need for t in tracked)
