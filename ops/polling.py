"""The one bounded poller every ops command and test uses, on a clock that tests can replace.

`polls` is bounded twice: by the clock, and by the count the clock allows (should sleep return
early). A fake Clock whose sleep advances its own time lets a unit test run minutes of polling in
microseconds, so a slow machine cannot fail it.
"""

from __future__ import annotations

import time as _time
from collections.abc import Callable, Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class Clock:
    time: Callable[[], float] = _time.time  # wall clock: timestamps compared with other hosts'
    monotonic: Callable[[], float] = _time.monotonic  # deadlines
    sleep: Callable[[float], None] = _time.sleep


SYSTEM = Clock()


def polls(timeout: float, interval: float, clock: Clock = SYSTEM) -> Iterator[int]:
    """0, 1, 2, ... with `interval` seconds between them, until `timeout` seconds have passed."""
    deadline = clock.monotonic() + timeout
    for attempt in range(int(timeout / interval) + 2):
        yield attempt
        if clock.monotonic() >= deadline:
            return
        clock.sleep(interval)
