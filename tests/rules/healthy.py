"""Quiet when healthy: four days of v2 from its raw counters, through the committed rules.

One promtool group plays a timeline for every SLO family at once (docs/alerting.md, "Quiet when
healthy"): a cold start with a warm-up burst, healthy traffic, a restart between two scrapes
(counters back to 0, cold cache, the burst again), a night with three requests of which one is
bad, a day, then a real burn of every SLO. The burn-rate alerts and the cache hit rate alert
must stay quiet, pending included, at every evaluation before the burn, and the burn must page or
ticket.

Samples every 2 minutes, evaluations every 10: the 3d windows make each evaluation costly, and
every window the rules read (5m and up) still holds two samples or more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import promtest as pt

STEP = 2  # minutes between samples
EVALUATION = "10m"
DAY = 24 * 60
RESTART = 3 * DAY  # minutes
NIGHT = (3 * DAY + 12 * 60, 3 * DAY + 18 * 60)
BURN = 3 * DAY + 20 * 60
END = 4 * DAY + 6 * 60
WARM_UP = 10  # minutes of burst after each start
V2 = {"job": "marketplace", "instance": "marketplace-v2:8000", "version": "v2"}
NAME = (
    "Four days of v2 from its raw counters: a cold start, a restart and a night raise nothing, "
    "a real burn of every SLO pages or tickets"
)


@dataclass(frozen=True)
class Family:
    """An SLO family: its alert, events per step when healthy, and the bad share per phase."""

    slo: str
    alert: str
    per_step: int
    healthy: float  # bad share in healthy traffic, well under every tier
    warm_up: float  # bad share during the burst after a start
    burn: float  # bad share of the real burn
    burn_minutes: int
    burn_severity: str


FAMILIES = (
    Family(
        "search_latency", "MarketplaceSearchLatencyBudgetBurn", 1000, 0.02, 0.9, 1.0, 90, "critical"
    ),
    Family(
        "lookup_latency", "MarketplaceLookupLatencyBudgetBurn", 500, 0.02, 0.5, 1.0, 90, "critical"
    ),
    # misses: the cache's only tiers are tickets, whose 3d window needs hours of misses to move
    Family("cache_hit", "MarketplaceCacheHitBudgetBurn", 1000, 0.10, 0.9, 1.0, 10 * 60, "warning"),
    Family("errors", "MarketplaceErrorBudgetBurn", 1000, 0.002, 0.1, 0.2, 90, "critical"),
    Family(
        "availability",
        "MarketplaceAvailabilityBudgetBurn",
        5000,
        0.0002,
        0.02,
        0.05,
        90,
        "critical",
    ),
)
LOW_HIT_RATE = "MarketplaceLowCacheHitRate"
QUIET = (*(f.alert for f in FAMILIES), LOW_HIT_RATE)
# (check name, eval time in minutes, range in minutes) of the phases that must stay quiet
PHASES = (
    ("a cold start", RESTART - 60, RESTART - 60),
    ("a restart", NIGHT[0] - 60, NIGHT[0] - 60 - RESTART),
    ("a night", BURN, BURN - NIGHT[0] + 60),
)


def _night_requests(t: int) -> tuple[int, int]:
    """(events, bad) in the step ending at minute t of the night: three requests, the second bad."""
    # the bad one lands just before an evaluation, inside its 5m window
    offsets = {NIGHT[0] + 60: (1, 0), NIGHT[0] + 178: (1, 1), NIGHT[0] + 300: (1, 0)}
    return offsets.get(t, (0, 0))


def _events(f: Family, t: int) -> tuple[float, float]:
    """(events, bad) in the step ending at minute t."""
    since_start = t if t < RESTART else t - RESTART
    if NIGHT[0] < t <= NIGHT[1]:
        return _night_requests(t)
    if since_start <= WARM_UP:
        share = f.warm_up
    elif BURN < t <= BURN + f.burn_minutes:
        share = f.burn
    else:
        share = f.healthy
    return f.per_step, f.per_step * share


def _counter(per_step: Callable[[int], float]) -> str:
    """promtool values of a counter: one sample per step, back to 0 at the restart (what the old
    process counted since the last scrape is lost with it)."""
    values: list[float | None] = []
    total = 0.0
    for t in range(0, END + 1, STEP):
        total = 0.0 if t in (0, RESTART) else total + per_step(t)
        values.append(total)
    return compress(values)


def compress(values: list[float | None]) -> str:
    """promtool's expanding notation (`a+bxn`, `_xn`) for a list of samples."""
    parts, i = [], 0
    while i < len(values):
        if values[i] is None:
            j = i
            while j + 1 < len(values) and values[j + 1] is None:
                j += 1
            parts.append("_" if j == i else f"_x{j - i + 1}")
            i = j + 1
            continue
        j = i
        step = values[i + 1] - values[i] if i + 1 < len(values) and values[i + 1] is not None else 0
        while (
            j + 1 < len(values) and values[j + 1] is not None and values[j + 1] - values[j] == step
        ):
            j += 1
        parts.append(
            f"{pt._num(values[i])}+{pt._num(step)}x{j - i}" if j > i else pt._num(values[i])
        )
        i = j + 1
    return " ".join(parts)


def _family_series(f: Family) -> list[dict]:
    def total(t):
        return _events(f, t)[0]

    def bad(t):
        return _events(f, t)[1]

    def good(t):
        return _events(f, t)[0] - _events(f, t)[1]

    if f.slo in ("search_latency", "lookup_latency"):
        metric, le = {
            "search_latency": ("marketplace_search_duration_seconds", "0.2"),
            "lookup_latency": ("marketplace_lookup_duration_seconds", "0.1"),
        }[f.slo]
        return [
            pt.series(f"{metric}_bucket", {**V2, "le": le}, _counter(good)),
            pt.series(f"{metric}_bucket", {**V2, "le": "+Inf"}, _counter(total)),
            pt.series(f"{metric}_count", V2, _counter(total)),
        ]
    if f.slo == "cache_hit":
        return [
            pt.series("marketplace_cache_hits_total", {**V2, "cache": "search"}, _counter(good)),
            pt.series("marketplace_cache_misses_total", {**V2, "cache": "search"}, _counter(bad)),
        ]
    if f.slo == "errors":
        # its own search counter: the latency family's searches are counted apart
        return [
            pt.series("marketplace_search_total", V2, _counter(total)),
            pt.series(
                "marketplace_search_errors_total", {**V2, "error_type": "injected"}, _counter(bad)
            ),
        ]
    route = {**V2, "method": "GET", "route": "/api/v1/search"}
    return [
        pt.series("marketplace_http_requests_total", {**route, "code": "200"}, _counter(good)),
        pt.series("marketplace_http_requests_total", {**route, "code": "500"}, _counter(bad)),
    ]


def _process_series() -> list[dict]:
    up = [1.0 for t in range(0, END + 1, STEP)]
    # the new process started a minute before the scrape that sees it
    started = [0.0 if t < RESTART else (RESTART - 1) * 60.0 for t in range(0, END + 1, STEP)]
    return [
        pt.series("up", V2, compress(up)),
        pt.series("process_start_time_seconds", V2, compress(started)),
    ]


def _duration(minutes: int) -> str:
    days, rest = divmod(minutes, DAY)
    hours, mins = divmod(rest, 60)
    return "".join(f"{n}{u}" for n, u in ((days, "d"), (hours, "h"), (mins, "m")) if n) or "0m"


def quiet_expr(alert: str, minutes: int, phase: str) -> str:
    """Any sample of the alert, pending or firing, in the phase. At night a single miss makes a
    0% hit rate over 5 minutes: the cache hit rate alert (info, never paging) may go pending then,
    but its 10 minutes of `for` must not pass."""
    state = ', alertstate="firing"' if (phase, alert) == ("a night", LOW_HIT_RATE) else ""
    selector = f'ALERTS{{alertname="{alert}", version="v2"{state}}}'
    return f"count_over_time({selector}[{_duration(minutes)}])"


def burn_expr(f: Family) -> str:
    selector = f'ALERTS{{alertname="{f.alert}", alertstate="firing", severity="{f.burn_severity}"}}'
    return f"max by (alertname, severity) (max_over_time({selector}[{_duration(f.burn_minutes)}]))"


def burn_checked_at(f: Family) -> int:
    return BURN + f.burn_minutes + 30


def group() -> dict:
    inputs = _process_series()
    for f in FAMILIES:
        inputs += _family_series(f)
    checks = [
        {"expr": quiet_expr(alert, span, phase), "eval_time": _duration(at), "exp_samples": []}
        for phase, at, span in PHASES
        for alert in QUIET
    ]
    checks += [
        {
            "expr": burn_expr(f),
            "eval_time": _duration(burn_checked_at(f)),
            "exp_samples": [
                {"labels": f'{{alertname="{f.alert}", severity="{f.burn_severity}"}}', "value": 1}
            ],
        }
        for f in FAMILIES
    ]
    return {
        "name": NAME,
        "interval": f"{STEP}m",
        "input_series": inputs,
        "promql_expr_test": checks,
    }
