"""The load generator's pacing: the send grid, bursts after a stall, and the real clock."""

from __future__ import annotations

import threading

import pytest
from marketplace.loadgen.pacing import Clock, Pacer

pytestmark = pytest.mark.unit


# --- pacing -------------------------------------------------------------------------------


def test_pacer_keeps_an_exact_grid():
    pacer = Pacer(rate=10, start=100.0)
    assert pacer.wait_time(100.0) == 0
    pacer.advance()
    assert pacer.wait_time(100.03) == pytest.approx(0.07)
    # a late iteration does not shift later due times: the grid stays anchored at the start
    assert pacer.wait_time(100.15) == 0
    pacer.advance()
    assert pacer.due() == pytest.approx(100.2)


def test_pacer_sends_at_most_a_bounded_burst_after_a_stall():
    pacer = Pacer(rate=100, start=0.0, max_burst=5)
    now = 10.0  # 1000 requests overdue
    burst = 0
    while pacer.wait_time(now) == 0 and burst < 1000:
        pacer.advance()
        burst += 1
    assert burst == 6  # the request due now plus at most max_burst overdue ones
    assert pacer.wait_time(now) == pytest.approx(0.01)


def test_pacer_rejects_a_zero_rate():
    with pytest.raises(ValueError):
        Pacer(rate=0, start=0)


def test_the_real_clock_waits_no_longer_than_asked_or_than_the_stop_event():
    clock, stop = Clock(), threading.Event()
    before = clock.now()
    assert clock.wait(stop, 0.01) is False
    assert clock.now() >= before + 0.01
    stop.set()
    started = clock.now()
    assert clock.wait(stop, 3600) is True  # returns at once: the event is already set
    assert clock.now() - started < 60
