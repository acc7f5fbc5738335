"""Outages of the alert path, played on a native stack of their own in a background thread (like
scenarios.py): Alertmanager, then the alert sink (the receivers), each down for 60 s while
MarketplaceDown starts firing for v2.

Each outage: stop v2; once the alert is pending, wait half its `for`, stop the part, so that the
alert fires in the middle of the outage; start the part again 60 s after it stopped; wait for the
pages; start v2 and wait for the resolved notifications. What each outage records is every
notification of the alert from v2's stop to the end, so a lost page and a duplicate both show.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field

import figures
from livestack import LiveStack, parse_time, rules
from scenarios import Aborted, polled

V2 = "marketplace-v2"
ALERT = "MarketplaceDown"
OUTAGE_SECONDS = 60.0
PAGES = (("marketplace-oncall", "pagerduty"), ("marketplace-oncall", "slack"))
SECONDS = {"s": 1, "m": 60, "h": 3600}


def for_seconds(alertname: str) -> int:
    [duration] = {r.get("for", "0s") for r in rules("alert") if r["alert"] == alertname}
    return int(duration[:-1]) * SECONDS[duration[-1]]


@dataclass
class PartOutage:
    """One part's outage. Times are Unix seconds."""

    part: str
    fault_at: float = 0.0
    down_at: float = 0.0
    up_at: float = 0.0
    fired_at: float | None = None
    cleared_at: float = 0.0
    notifications: list[dict] = field(default_factory=list)
    failed_attempts: float = 0.0  # sends that failed while the part was down
    steps: list[str] = field(default_factory=list)

    def entries(self, status: str, key: tuple[str, str]) -> list[dict]:
        return [
            e
            for e in self.notifications
            if e["status"] == status and (e["receiver"], e["kind"]) == key
        ]

    def first_page_after_return(self) -> float:
        """Seconds from the part's return to the last of the first pages (every receiver kind)."""
        return max(parse_time(self.entries("firing", key)[0]["received_at"]) for key in PAGES) - (
            self.up_at
        )

    def figure(self) -> dict:
        return {
            "part": self.part,
            "down_s": round(self.up_at - self.down_at, 1),
            "alert_fired_after_part_went_down_s": round(self.fired_at - self.down_at, 1),
            "page_after_part_returned_s": round(self.first_page_after_return(), 1),
            "pages": {f"{r}/{k}": len(self.entries("firing", (r, k))) for r, k in PAGES},
            "resolved": {f"{r}/{k}": len(self.entries("resolved", (r, k))) for r, k in PAGES},
            "failed_attempts": self.failed_attempts,
        }


def failed_attempts(live: LiveStack, part: str) -> float:
    """Failed attempts so far to deliver past `part`: Prometheus' failed sends to Alertmanager,
    or Alertmanager's failed PagerDuty and Slack notifications (the sink's outage)."""
    if part == "alertmanager":
        source, metric, kinds = "prometheus", "prometheus_notifications_errors_total", ("",)
    else:
        source, metric = "alertmanager", "alertmanager_notifications_failed_total"
        kinds = ('integration="pagerduty"', 'integration="slack"')
    text = live.http.get(live.urls[source] + "/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(metric) and any(kind in line for kind in kinds):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _alert_state(live: LiveStack) -> str | None:
    for series in live.query(f'ALERTS{{alertname="{ALERT}", version="v2"}}'):
        if series["metric"]["alertstate"] == "firing":
            return "firing"
        return series["metric"]["alertstate"]
    return None


def _pages(live: LiveStack, status: str, since: float) -> set[tuple[str, str]]:
    return {
        (e["receiver"], e["kind"])
        for e in live.notifications(alertname=ALERT, status=status)
        if parse_time(e["received_at"]) >= since - 1
    }


def outage(live: LiveStack, part: str, abort: threading.Event) -> PartOutage:
    out = PartOutage(part)
    began = time.monotonic()

    def pause(seconds: float) -> None:
        if abort.wait(seconds):
            raise Aborted(part)

    def step(text: str) -> None:
        out.steps.append(f"{time.monotonic() - began:6.1f}s {text}")

    out.fault_at = time.time()
    live.stop(V2)
    step("v2 stopped")
    for _ in polled(30, abort, f"{part}: pending"):
        if _alert_state(live) == "pending":
            break
    else:
        raise TimeoutError(f"{part}: {ALERT} never pending: {out.steps}")
    step(f"{ALERT} pending")
    pause(for_seconds(ALERT) / 2)
    failed_before = failed_attempts(live, part)
    out.down_at = time.time()
    live.stop(part)
    step(f"{part} stopped")
    for _ in polled(OUTAGE_SECONDS, abort, f"{part}: firing"):
        if out.fired_at is None and _alert_state(live) == "firing":
            out.fired_at = time.time()
            step(f"{ALERT} firing in Prometheus")
        if time.time() >= out.down_at + OUTAGE_SECONDS:
            break
    out.failed_attempts = failed_attempts(live, part) - failed_before
    out.up_at = time.time()
    live.start(part)
    step(f"{part} started again")
    for _ in polled(180, abort, f"{part}: pages"):
        if set(PAGES) <= _pages(live, "firing", out.fault_at):
            break
    else:
        raise TimeoutError(f"{part}: no page for {PAGES} within 180s: {out.steps}")
    step("pages received")
    pause(15)  # three group intervals: a duplicate would arrive within them
    out.cleared_at = time.time()
    live.start(V2)
    step("v2 started again")
    for _ in polled(120, abort, f"{part}: resolved"):
        if set(PAGES) <= _pages(live, "resolved", out.cleared_at):
            break
    else:
        raise TimeoutError(f"{part}: no resolved notification within 120s: {out.steps}")
    step("resolved notifications received")
    pause(10)
    out.notifications = [
        e
        for e in live.notifications(alertname=ALERT)
        if parse_time(e["received_at"]) >= out.fault_at - 1
    ]
    return out


def alert_path_outages(live: LiveStack, abort: threading.Event) -> dict[str, PartOutage]:
    """Alertmanager's outage, then the receivers'; the stack is healthy between them."""
    for _ in polled(60, abort, "v2 up"):
        if live.value('up{job="marketplace"}', version="v2") == 1:
            break
    return {part: outage(live, part, abort) for part in ("alertmanager", "alertsink")}


# ---- Prometheus restart (test_native_stack.py): its figure ------------------------------------
# One metric at a time: count_over_time drops the name, so series of two metrics can collide.
STORED = " + ".join(
    f"sum(count_over_time({name}[1h]))"
    for name in ("up", "scrape_samples_scraped", "marketplace_http_request_duration_seconds_bucket")
)


def stored_samples(live: LiveStack, at: float) -> float:
    """Samples of a few metrics of every target (and of every histogram bucket of the service's
    request latency) in the hour before `at`, as Prometheus holds them now."""
    [series] = live.query(STORED, at=at)
    return float(series["value"][1])


def restart_figure(live: LiveStack, config, at: float, before: float, took: float) -> dict:
    """Samples before against after, and the scrape gap the restart left in v2's `up`."""
    time.sleep(3)  # a few scrapes after the restart, to close the gap
    [series] = live.query('up{job="marketplace", version="v2"}[2m]')
    stamps = [float(t) for t, _ in series["values"]]
    return figures.record(
        config,
        "prometheus restart",
        samples_before=before,
        samples_after=stored_samples(live, at),
        restart_s=round(took, 1),
        largest_scrape_gap_s=round(max(b - a for a, b in itertools.pairwise(stamps)), 1),
    )
