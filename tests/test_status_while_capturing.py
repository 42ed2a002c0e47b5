"""A camera's status is read on the event loop while its capture thread updates it.

/api/cameras answered 500 "internal error" in the 32-camera bench: the share of
recent frames with motion was summed item by item on the loop while the capture
thread appended the next frame's result to the same queue.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

import numpy as np

from vigil_engine.capture.rate import RateMeter
from vigil_engine.config import MotionConfig
from vigil_engine.motion.detector import MotionDetector


def _race(work: Callable[[], object], read: Callable[[], object], seconds: float = 2.0
          ) -> list[BaseException]:
    """Run ``work`` in one thread and ``read`` in another, switching as often as a loaded
    engine might; return what ``read`` raised."""
    errors: list[BaseException] = []
    stop = threading.Event()

    def loop(fn: Callable[[], object], report: bool) -> None:
        try:
            while not stop.is_set():
                fn()
        except BaseException as err:
            if report:
                errors.append(err)
            raise

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    threads = [threading.Thread(target=loop, args=(work, False)),
               threading.Thread(target=loop, args=(read, True))]
    try:
        for t in threads:
            t.start()
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not errors:
            time.sleep(0.02)
    finally:
        stop.set()
        for t in threads:
            t.join()
        sys.setswitchinterval(interval)
    return errors


def test_motion_share_can_be_read_while_the_capture_thread_detects_motion() -> None:
    motion = MotionDetector(64, 48, MotionConfig())
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (motion.grid_size[1], motion.grid_size[0]), np.uint8)
              for _ in range(8)]
    i = 0

    def capture() -> None:
        nonlocal i
        motion.process_grey(frames[i % len(frames)])
        i += 1

    errors = _race(capture, lambda: motion.motion_percent)
    assert not errors, errors
    assert i > 50  # the capture thread did work all along
    assert 0.0 <= motion.motion_percent <= 100.0


def test_frame_rates_can_be_read_while_the_capture_thread_ticks() -> None:
    meter = RateMeter(window=0.001)  # ticks age out at once: old ones go all the time
    errors = _race(meter.tick, lambda: meter.rate)
    assert not errors, errors
