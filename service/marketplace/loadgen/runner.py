"""Sending the plan: one bounded worker pool per target, paced by one clock, with progress lines.

Every planned request goes to every target, so v1 and v2 see the same traffic and their
dashboards compare like with like. Each target has its own threads and its own bounded queue:
a slow target (v1 under load) drops its own overflow, counted as `dropped`, and never holds
back the others or grows memory without bound.
"""

from __future__ import annotations

import queue
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

import requests

from marketplace.loadgen.mix import PlannedRequest
from marketplace.loadgen.pacing import Clock, Pacer

USER_AGENT = "marketplace-loadgen/1"
LATENCY_WINDOW = 20_000  # latency samples kept per target between two progress lines


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted samples; 0.0 for none."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil without floats drifting
    return ordered[int(rank) - 1]


@dataclass
class TargetStats:
    queued: int = 0  # accepted for sending (the pace the plan asked for)
    sent: int = 0  # answered or failed
    ok: int = 0  # 2xx and 3xx
    client_errors: int = 0  # 4xx
    server_errors: int = 0  # 5xx
    failed: int = 0  # no HTTP answer: refused, reset, timed out
    dropped: int = 0  # the target's queue was full; never sent
    unexpected: int = 0  # 4xx for something that exists, 5xx, or no answer
    by_kind: dict[str, int] = field(default_factory=dict)
    window: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, planned: PlannedRequest, status: int | None, seconds: float) -> None:
        with self.lock:
            self.sent += 1
            self.by_kind[planned.kind] = self.by_kind.get(planned.kind, 0) + 1
            if status is None:
                self.failed += 1
                self.unexpected += 1
                return
            self.window.append(seconds)
            if status < 400:
                self.ok += 1
            elif status < 500:
                self.client_errors += 1
                self.unexpected += planned.expect_found
            else:
                self.server_errors += 1
                self.unexpected += 1

    def drop(self) -> None:
        with self.lock:
            self.dropped += 1

    def take_window(self) -> list[float]:
        with self.lock:
            samples = list(self.window)
            self.window.clear()
        return samples


class Target:
    """A base URL, its worker threads (one `requests.Session` each) and its queue."""

    def __init__(
        self,
        base_url: str,
        session_factory: Callable[[], requests.Session] | None = None,
        workers: int = 4,
        timeout: float = 5.0,
        queue_size: int | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.stats = TargetStats()
        self.timeout = timeout
        self._session_factory = session_factory or requests.Session
        self._queue: queue.Queue[PlannedRequest | None] = queue.Queue(
            maxsize=queue_size or workers * 4
        )
        self._threads = [
            threading.Thread(target=self._work, name=f"loadgen-{i}", daemon=True)
            for i in range(workers)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def submit(self, planned: PlannedRequest) -> None:
        try:
            self._queue.put_nowait(planned)
        except queue.Full:
            self.stats.drop()
            return
        with self.stats.lock:
            self.stats.queued += 1

    def close(self, discard_queued: bool) -> None:
        """Stop the workers; requests in flight finish (each is bounded by the timeout)."""
        if discard_queued:
            while True:
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    break
        for _ in self._threads:
            self._queue.put(None)  # blocks only while workers drain what is left, bounded
        deadline = time.monotonic() + self.timeout + 1.0
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _work(self) -> None:
        with self._session_factory() as session:
            session.headers["User-Agent"] = USER_AGENT
            while (planned := self._queue.get()) is not None:
                self._send(session, planned)

    def _send(self, session: requests.Session, planned: PlannedRequest) -> None:
        started = time.perf_counter()
        try:
            response = session.request(
                planned.method, self.base_url + planned.path, timeout=self.timeout
            )
            status: int | None = response.status_code
        except requests.RequestException:
            status = None
        self.stats.record(planned, status, time.perf_counter() - started)


def progress_line(elapsed: float, targets: list[Target]) -> str:
    """One line: totals, then per target the counts and latency of the last window."""
    stats = [target.stats for target in targets]
    total = sum(s.sent for s in stats)
    parts = [
        f"loadgen t={elapsed:.0f}s sent={total} rate={total / elapsed if elapsed else 0:.1f}/s"
    ]
    for target, s in zip(targets, stats, strict=True):
        window = s.take_window()
        parts.append(
            f"{target.base_url} ok={s.ok} 4xx={s.client_errors} 5xx={s.server_errors}"
            f" failed={s.failed} dropped={s.dropped}"
            f" p50={percentile(window, 50) * 1000:.1f}ms p99={percentile(window, 99) * 1000:.1f}ms"
        )
    return " | ".join(parts)


class Runner:
    """Pace a plan onto targets until a count, a duration or a stop event ends it."""

    def __init__(
        self,
        targets: list[Target],
        plan: Iterator[PlannedRequest],
        rate: float,
        count: int | None = None,
        duration: float | None = None,
        progress_every: float = 10.0,
        out: TextIO | None = None,
        clock: Clock | None = None,
    ) -> None:
        if not targets:
            raise ValueError("at least one target is needed")
        self.targets = targets
        self.plan = plan
        self.rate = rate
        self.count = count
        self.duration = duration
        self.progress_every = progress_every
        self.out = out or sys.stdout
        self.clock = clock or Clock()

    def run(self, stop: threading.Event) -> list[TargetStats]:
        for target in self.targets:
            target.start()
        start = self.clock.now()
        pacer = Pacer(self.rate, start)
        deadline = start + self.duration if self.duration is not None else float("inf")
        next_progress = start + self.progress_every
        try:
            while not stop.is_set():
                now = self.clock.now()
                if now >= deadline or (self.count is not None and pacer.sent >= self.count):
                    break
                if now >= next_progress:
                    self._print(progress_line(now - start, self.targets))
                    next_progress += self.progress_every
                wait = pacer.wait_time(now)
                if wait > 0:
                    self.clock.wait(stop, min(wait, next_progress - now, deadline - now))
                    continue
                planned = next(self.plan)
                for target in self.targets:
                    target.submit(planned)
                pacer.advance()
        finally:
            for target in self.targets:
                target.close(discard_queued=stop.is_set())
            end = " (stopped)" if stop.is_set() else " (done)"
            self._print(progress_line(self.clock.now() - start, self.targets) + end)
        return [target.stats for target in self.targets]

    def _print(self, line: str) -> None:
        print(line, file=self.out, flush=True)
