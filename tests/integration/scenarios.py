"""Faults in, pages out: each scenario runs on a native stack of its own, in a background thread,
so that the slow ones (a 5 minute `for`) overlap each other and the rest of the suite.

A scenario waits for steady traffic, injects its fault, waits until the alert's notifications
reach the sink, clears the fault and waits until the resolved notifications arrive. The rule
files are untouched: the windows and `for` durations are the committed ones. Two things keep the
run short without changing what is tested:
- Alertmanager's route timings are shortened (group_wait 1s, group_interval 5s) when rendered;
- after a fault is cleared, fast requests are added until the alert's own expression no longer
  holds, instead of waiting up to 5 minutes for the bad requests to leave the rate window.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from livestack import LiveStack, parse_time, rules

from ops.polling import Clock, polls

V2 = "marketplace-v2"
# Well inside the 0.2-0.5s bucket: p95 lands near 0.485s there, above the 200ms warning, and a
# request must be delayed another 250ms before it counts toward the 500ms critical twin, whose
# page would mute the warning under test.
LATENCY_MS = 250


class Aborted(RuntimeError):
    """The test session is ending; the scenario stops where it is."""


@dataclass
class Outcome:
    """What a scenario observed. Times are Unix seconds; notifications are sink entries."""

    name: str
    alertname: str
    expected: list[tuple[str, str]]  # (receiver, kind) that must be notified
    fault_at: float | None = None
    cleared_at: float | None = None
    firing: dict[tuple[str, str], dict] = field(default_factory=dict)
    resolved: dict[tuple[str, str], dict] = field(default_factory=dict)
    all_notifications: list[dict] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)

    def fire_delay(self, receiver: str, kind: str) -> float:
        return parse_time(self.firing[receiver, kind]["received_at"]) - self.fault_at

    def resolve_delay(self, receiver: str, kind: str) -> float:
        return parse_time(self.resolved[receiver, kind]["received_at"]) - self.cleared_at


@dataclass
class Scenario:
    name: str
    alertname: str
    expected: list[tuple[str, str]]
    inject: Callable[[LiveStack], None]
    clear: Callable[[LiveStack, threading.Event], None]
    prepare: Callable[[LiveStack, threading.Event], None]
    loadgen_rate: float = 1.0
    fire_timeout: float = 150.0
    resolve_timeout: float = 120.0

    def run(self, live: LiveStack, abort: threading.Event) -> Outcome:
        out = Outcome(self.name, self.alertname, list(self.expected))
        began = time.monotonic()

        def step(text: str) -> None:
            out.steps.append(f"{time.monotonic() - began:7.1f}s {text}")

        self.prepare(live, abort)
        step("traffic steady")
        out.fault_at = time.time()
        self.inject(live)
        step("fault injected")
        self._await(live, out, "firing", out.firing, self.fire_timeout, abort)
        step("firing notifications received")
        out.cleared_at = time.time()
        self.clear(live, abort)
        step("fault cleared")
        self._await(live, out, "resolved", out.resolved, self.resolve_timeout, abort)
        step("resolved notifications received")
        out.all_notifications = live.notifications(alertname=self.alertname)
        return out

    def _await(self, live, out, status, found, timeout, abort) -> None:
        since = out.fault_at if status == "firing" else out.cleared_at
        for _ in polled(timeout, abort, self.name):
            for entry in live.notifications(alertname=self.alertname, status=status):
                key = (entry["receiver"], entry["kind"])
                if parse_time(entry["received_at"]) >= since - 1 and key not in found:
                    found[key] = entry
            if not set(self.expected) - set(found):
                return
        missing = sorted(set(self.expected) - set(found))
        alerts = [
            (a["metric"]["alertname"], a["metric"]["alertstate"])
            for a in live.query('ALERTS{version="v2"}')
        ]
        raise TimeoutError(
            f"{self.name}: no {status} {self.alertname} notification for {missing} "
            f"within {timeout:g}s; steps: {out.steps}; v2 alerts now: {alerts}"
        )


# ---- the three scenarios of the issue -----------------------------------------------------------
def alert_expr(alertname: str) -> str:
    [rule] = [r for r in rules("alert") if r["alert"] == alertname]
    return rule["expr"]


def still_holds(live: LiveStack, alertname: str) -> bool:
    """Whether the alert's expression (threshold included) still selects v2."""
    return live.value(alert_expr(alertname), version="v2") is not None


def polled(timeout: float, abort: threading.Event, what: str, interval: float = 1.0):
    """0, 1, 2, ... `interval` seconds apart until `timeout` (bounded in count as well); raises
    Aborted as soon as the session ends."""

    def sleep(seconds: float) -> None:
        if abort.wait(seconds):
            raise Aborted(what)

    yield from polls(timeout, interval, Clock(sleep=sleep))


def wait_for_traffic(live: LiveStack, abort: threading.Event, searches: int = 20) -> None:
    """Until Prometheus has scraped `searches` v2 searches (the load generator runs)."""
    for _ in polled(90, abort, "warm-up"):
        if (live.value('sum(marketplace_search_total{version="v2"})') or 0) >= searches:
            return
    raise TimeoutError("no v2 search traffic reached Prometheus within 90s")


ONSET_SEARCHES = 60


def _inject_errors(live: LiveStack) -> None:
    """10% of v2's requests fail from now on, and the first failures come at once: at the load
    generator's ~0.9 searches/s the first of them took up to 30 s to arrive by chance, and the
    page's deadline (`for` + 30 s) is the alerting path's, not the dice's. 60 searches hold no
    failure with a chance of 0.9^60, about 0.2%."""
    live.set_faults(V2, error_rate=0.1)
    live.searches(V2, ONSET_SEARCHES)


def dilute(alertname: str, batch: int) -> Callable[[LiveStack, threading.Event], None]:
    """Clear v2's faults, then add fast searches until the alert's condition no longer holds."""

    def clear(live: LiveStack, abort: threading.Event) -> None:
        live.clear_faults(V2)
        time.sleep(3)  # a scrape and an evaluation after the last bad request
        batches = 0
        for _ in polled(600, abort, alertname, 3.0):
            if not still_holds(live, alertname):
                return
            if batches == 40:
                break
            live.searches(V2, batch)
            batches += 1
        raise TimeoutError(f"{alertname} still holds after {batches} batches of {batch} searches")

    return clear


def _down_prepare(live: LiveStack, abort: threading.Event) -> None:
    for _ in polled(60, abort, "down"):
        if live.value('up{job="marketplace"}', version="v2") == 1:
            return
    raise TimeoutError("v2 never scraped up within 60s")


def scenarios() -> list[Scenario]:
    oncall = [("marketplace-oncall", "pagerduty"), ("marketplace-oncall", "slack")]
    return [
        Scenario(
            name="v2 stopped",
            alertname="MarketplaceDown",
            expected=oncall,
            prepare=_down_prepare,
            inject=lambda live: live.stop(V2),
            clear=lambda live, abort: live.start(V2),
            fire_timeout=150,
        ),
        Scenario(
            name="v2 errors",
            alertname="MarketplaceHighErrorRate",
            expected=oncall,
            loadgen_rate=1.5,
            prepare=wait_for_traffic,
            inject=_inject_errors,
            clear=dilute("MarketplaceHighErrorRate", batch=400),
            fire_timeout=240,
        ),
        Scenario(
            name="v2 search latency",
            alertname="MarketplaceHighSearchLatency",
            expected=[("marketplace-team", "slack")],
            loadgen_rate=1.0,
            # Every search is slow once the fault is in, also a fast burn of the latency SLO, but
            # no burn-rate tier counts before the stack holds history from its long window's first
            # tenth (54 minutes for 1h; docs/alerting.md), so no page mutes the warning under test.
            # No fast searches first: they would dilute the 5m window and delay the p95's crossing
            # by a minute (the 63-77 s beyond `for` of issue 12).
            prepare=wait_for_traffic,
            inject=lambda live: live.set_faults(V2, search_latency_ms=LATENCY_MS),
            clear=dilute("MarketplaceHighSearchLatency", batch=600),
            fire_timeout=480,
            resolve_timeout=180,
        ),
    ]
