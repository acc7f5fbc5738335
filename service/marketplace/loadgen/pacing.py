"""When the load generator sends: a fixed-rate schedule that neither drifts nor bursts."""

from __future__ import annotations

import threading
import time


class Clock:
    """What pacing reads and waits on: real monotonic time here. A test passes a clock whose
    time moves only when the runner waits, so no result depends on how fast the machine is."""

    def now(self) -> float:
        return time.monotonic()

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        """Wait up to `seconds`, cut short by `stop`; True when `stop` is set."""
        return stop.wait(seconds)


class Pacer:
    """Due times on an absolute grid: request i is due at start + i / rate.

    Scheduling against the grid (not "sleep 1/rate after each send") keeps the long-run rate
    exact however long each iteration takes. After a stall (a suspended laptop, a GC pause) the
    grid is moved forward so that at most `max_burst` overdue requests go out at once, instead
    of a flood that would measure the generator rather than the service.
    """

    def __init__(self, rate: float, start: float, max_burst: int | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.interval = 1.0 / rate
        self.max_burst = max_burst if max_burst is not None else max(1, int(rate))
        self._start = start
        self._index = 0

    @property
    def sent(self) -> int:
        return self._index

    def due(self) -> float:
        return self._start + self._index * self.interval

    def wait_time(self, now: float) -> float:
        """Seconds to wait before the next request may go (0 when it is due or overdue)."""
        overdue = int((now - self.due()) / self.interval)
        if overdue > self.max_burst:
            # re-anchor the grid so that exactly max_burst requests remain overdue
            self._start = now - (self._index + self.max_burst) * self.interval
        wait = self.due() - now
        return wait if wait > 1e-9 else 0.0  # float noise must not turn "due now" into a wait

    def advance(self) -> None:
        """Mark the next due request as sent."""
        self._index += 1
