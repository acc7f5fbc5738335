"""Both sides of every threshold: promtool cases computed from the spec's numbers.

The thresholds are written here once, from the spec (../shared/seed/marketplace-v2-monitoring.md:
its alert rules and its SLO table) and from docs/alerting.md for the burn-rate guards, and never
read from the rule files: a wrong number in a rule must not test itself. For each alert the
inputs are built so that the value the alert compares lands at threshold x (1 - EPSILON) on one
side and threshold x (1 + EPSILON) on the other: the quiet side must raise nothing at any
evaluation, the alerting side must be pending from its first evaluation, quiet one evaluation
before its `for` boundary and firing at it, with every label and annotation.
"""

from __future__ import annotations

from dataclasses import dataclass

import promtest as pt

EPSILON = 0.02
INTERVAL = 60  # seconds between samples and between evaluations
BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, float("inf"))
V2 = {"job": "marketplace", "instance": "marketplace-v2:8000", "version": "v2"}
# Requests per minute behind every ratio; large enough that no guard of docs/alerting.md applies.
PER_MINUTE = 6000


@dataclass(frozen=True)
class Threshold:
    """One alert of the spec: what it compares, against what, for how long."""

    alert: str
    signal: str  # key of SIGNALS: how to build inputs that put the compared value at a number
    value: float
    above: bool  # fires above the value (else below)
    for_minutes: int
    severity: str


# The spec's "Prometheus Alert Rules", in base units (its ms thresholds are seconds here).
SPEC = (
    Threshold("MarketplaceHighSearchLatency", "search_p95", 0.200, True, 5, "warning"),
    Threshold("MarketplaceCriticalLatency", "search_p95", 0.500, True, 2, "critical"),
    Threshold("MarketplaceLowCacheHitRate", "cache_hit_ratio", 0.80, False, 10, "info"),
    Threshold("MarketplaceHighErrorRate", "error_ratio", 0.01, True, 2, "critical"),
    Threshold("MarketplaceSlowRDFQueries", "rdf_p95", 0.100, True, 5, "warning"),
    Threshold("MarketplaceHighMemory", "resident_bytes", 1e9, True, 5, "warning"),
)
# The spec's SLO table: objective per SLO, and the burn-rate alert that guards it.
SLOS = {
    "search_latency": (0.95, "MarketplaceSearchLatencyBudgetBurn"),
    "lookup_latency": (0.95, "MarketplaceLookupLatencyBudgetBurn"),
    "cache_hit": (0.80, "MarketplaceCacheHitBudgetBurn"),
    "errors": (0.99, "MarketplaceErrorBudgetBurn"),
    "availability": (0.999, "MarketplaceAvailabilityBudgetBurn"),
}
# SRE Workbook multi-window tiers: (factor, long window, short window, for, severity).
TIERS = (
    (14.4, "1h", "5m", 2, "critical"),
    (6.0, "6h", "30m", 2, "critical"),
    (3.0, "1d", "2h", 15, "warning"),
    (1.0, "3d", "6h", 15, "warning"),
)
SLI_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
# docs/alerting.md: a tier counts only if, at its threshold, its long window would hold this many
# bad events.
MIN_BAD_EVENTS = 10


def _p95(metric: str, extra: dict[str, str]):
    def build(value: float, samples: int) -> list[dict]:
        shares = pt.bucket_fractions(BOUNDS, value)
        out = [
            pt.series(
                f"{metric}_bucket",
                {**V2, **extra, "le": "+Inf" if b == float("inf") else f"{b:g}"},
                pt.counter((PER_MINUTE * share, samples)),
            )
            for b, share in zip(BOUNDS, shares, strict=True)
        ]
        count = pt.series(f"{metric}_count", {**V2, **extra}, pt.counter((PER_MINUTE, samples)))
        return [*out, count]

    return build


def _share(part: str, rest: str, extra: dict[str, str]):
    """`part` counts value x the requests, `rest` the other (1 - value): hits and misses."""

    def build(value: float, samples: int) -> list[dict]:
        return [
            pt.series(part, {**V2, **extra}, pt.counter((PER_MINUTE * value, samples))),
            pt.series(rest, {**V2, **extra}, pt.counter((PER_MINUTE * (1 - value), samples))),
            # started an hour before the test clock's 0: past the cache warm-up guard
            pt.series("process_start_time_seconds", V2, pt.gauge(-3600, samples)),
        ]

    return build


def _of_total(part: str, total: str, extra: dict[str, str]):
    """`part` counts value x the requests that `total` counts: errors among searches."""

    def build(value: float, samples: int) -> list[dict]:
        return [
            pt.series(part, {**V2, **extra}, pt.counter((PER_MINUTE * value, samples))),
            pt.series(total, V2, pt.counter((PER_MINUTE, samples))),
        ]

    return build


SIGNALS = {
    "search_p95": _p95("marketplace_search_duration_seconds", {}),
    "rdf_p95": _p95("marketplace_rdf_query_duration_seconds", {"query": "search_packages"}),
    "cache_hit_ratio": _share(
        "marketplace_cache_hits_total", "marketplace_cache_misses_total", {"cache": "search"}
    ),
    "error_ratio": _of_total(
        "marketplace_search_errors_total", "marketplace_search_total", {"error_type": "injected"}
    ),
    "resident_bytes": lambda value, samples: [
        pt.series("process_resident_memory_bytes", V2, pt.gauge(value, samples))
    ],
}
ALERT_LABELS = {"version": "v2", "instance": "marketplace-v2:8000", "job": "marketplace"}
# the labels each alert keeps from its series (the p95 and ratio alerts aggregate `by (version)`)
KEPT = {
    "resident_bytes": ALERT_LABELS,
    "search_p95": {"version": "v2"},
    "rdf_p95": {"version": "v2"},
    "cache_hit_ratio": {"version": "v2"},
    "error_ratio": {"version": "v2"},
}


@dataclass(frozen=True)
class Case:
    """One generated promtool test group and the rule files it loads."""

    name: str
    group: dict
    rule_file: str


def _minutes(n: int) -> str:
    return f"{n}m"


def _group(name, inputs, alert, labels, value, fires, for_minutes, onset=1, horizon=None):
    """Quiet side: nothing pending or firing at any evaluation up to the boundary and after.
    Alerting side: pending at `onset` (not before), quiet at onset + for - 1m, firing at
    onset + for."""
    boundary = onset + for_minutes
    horizon = horizon or boundary + 5
    selector = f'ALERTS{{alertname="{alert.name}", severity="{alert.labels["severity"]}"}}'
    if not fires:
        return {
            "name": name,
            "interval": _minutes(1),
            "input_series": inputs,
            "promql_expr_test": [
                {
                    "expr": f'count_over_time(ALERTS{{alertname="{alert.name}"}}[{horizon + 1}m])',
                    "eval_time": _minutes(horizon),
                    "exp_samples": [],
                }
            ],
            "alert_rule_test": [
                {"eval_time": _minutes(t), "alertname": alert.name, "exp_alerts": []}
                for t in (boundary, horizon)
            ],
        }
    pending = selector[:-1] + ', alertstate="pending"}'
    pending_labels = {"alertname": alert.name, "alertstate": "pending", **alert.labels, **labels}
    shown = ", ".join(f'{k}="{v}"' for k, v in pending_labels.items())
    onset_tests = (
        []
        if onset == 0
        else [{"expr": pending, "eval_time": _minutes(onset - 1), "exp_samples": []}]
    )
    onset_tests.append(
        {
            "expr": pending,
            "eval_time": _minutes(onset),
            "exp_samples": [{"labels": f"ALERTS{{{shown}}}", "value": 1}],
        }
    )
    return {
        "name": name,
        "interval": _minutes(1),
        "input_series": inputs,
        "promql_expr_test": onset_tests,
        "alert_rule_test": [
            {"eval_time": _minutes(boundary - 1), "alertname": alert.name, "exp_alerts": []},
            {
                "eval_time": _minutes(boundary),
                "alertname": alert.name,
                # exactly this alert: a twin of another severity (the other tier) stays quiet
                "exp_alerts": pt.firing(alert, labels, value),
            },
        ],
    }


def _side(fires: bool, above: bool) -> float:
    return 1 + EPSILON if fires == above else 1 - EPSILON


def spec_cases() -> list[Case]:
    cases = []
    for t in SPEC:
        alert = pt.rule(t.alert, t.severity)
        for fires in (False, True):
            value = t.value * _side(fires, t.above)
            samples = t.for_minutes + 10
            where = "over" if value > t.value else "under"
            shown = _shown(t.signal, value), _shown(t.signal, t.value)
            verb = f"fires {t.for_minutes}m after" if fires else "stays quiet while"
            name = (
                f"{t.alert} {verb} the {t.signal.replace('_', ' ')} is {shown[0]}, "
                f"{EPSILON:.0%} {where} the spec's {shown[1]}"
            )
            inputs = SIGNALS[t.signal](value, samples)
            onset = 0 if t.signal == "resident_bytes" else 1  # a rate needs two samples
            group = _group(name, inputs, alert, KEPT[t.signal], value, fires, t.for_minutes, onset)
            cases.append(Case(name, group, "marketplace_alerts.yml"))
    # The spec's MarketplaceDown has no number but `up == 0`: a scrape that works, one that fails.
    alert = pt.rule("MarketplaceDown", "critical")
    for fires, up in ((False, 1), (True, 0)):
        verb = "fires 1m after" if fires else "stays quiet while"
        name = f"MarketplaceDown {verb} up is {up} for v2"
        inputs = [pt.series("up", V2, pt.gauge(up, 12))]
        group = _group(name, inputs, alert, ALERT_LABELS, up, fires, 1, onset=0)
        cases.append(Case(name, group, "marketplace_alerts.yml"))
    return cases


def _shown(signal: str, value: float) -> str:
    if signal.endswith("p95"):
        return pt.humanize_duration(value)
    if signal == "resident_bytes":
        return f"{value / 1e9:.3g} GB"
    return pt.humanize_percentage(value)


def _burn_inputs(slo: str, windows: dict[str, float], events: float, covered: int, samples: int):
    sli = {"slo": slo, "version": "v2"}
    out = [
        pt.series(
            f"marketplace:slo:sli_error:ratio_rate{w}", sli, pt.gauge(windows.get(w, 0), samples)
        )
        for w in SLI_WINDOWS
    ]
    for w in ("1h", "6h", "1d", "3d"):
        out.append(
            pt.series(
                f"marketplace:up:history_covers{w}", {"version": "v2"}, pt.gauge(covered, samples)
            )
        )
        out.append(
            pt.series(f"marketplace:slo:sli_events:increase{w}", sli, pt.gauge(events, samples))
        )
    return out


def burn_cases() -> list[Case]:
    """Each SLO's tiers on both sides of factor x budget, and of the minimum-events guard."""
    cases = []
    for slo, (objective, alertname) in SLOS.items():
        budget = 1 - objective
        for factor, long, short, for_minutes, severity in TIERS:
            threshold = factor * budget
            if threshold >= 1:
                continue  # e.g. 14.4 x a 20% budget: no ratio can reach it, so no tier exists
            alert = pt.rule(alertname, severity)
            labels = {"slo": slo, "version": "v2"}
            samples = for_minutes + 10
            plenty = 1000 * MIN_BAD_EVENTS / threshold
            for fires in (False, True):
                ratio = threshold * _side(fires, True)
                inputs = _burn_inputs(slo, {long: ratio, short: ratio}, plenty, 1, samples)
                verb = f"fires {for_minutes}m after" if fires else "stays quiet while"
                name = (
                    f"The {severity} {slo} burn {verb} its {long} and {short} windows are at "
                    f"{factor * _side(fires, True):.4g}x the budget of a {objective:.1%} "
                    "objective, "
                    f"{EPSILON:.0%} {'over' if fires else 'under'} {factor:g}x"
                )
                group = _group(name, inputs, alert, labels, ratio, fires, for_minutes, onset=0)
                cases.append(Case(name, group, "marketplace_burn_rate.yml"))
            for fires in (False, True):
                ratio = min(1.0, threshold * 2)
                events = MIN_BAD_EVENTS / threshold * _side(fires, True)
                inputs = _burn_inputs(slo, {long: ratio, short: ratio}, events, 1, samples)
                name = (
                    f"The {severity} {slo} burn at {factor * 2:g}x "
                    f"{'fires' if fires else 'stays quiet'} with {events:.4g} events in its "
                    f"{long} window, {EPSILON:.0%} {'over' if fires else 'under'} the "
                    f"{MIN_BAD_EVENTS} bad events its threshold needs"
                )
                group = _group(name, inputs, alert, labels, ratio, fires, for_minutes, onset=0)
                cases.append(Case(name, group, "marketplace_burn_rate.yml"))
            ratio = min(1.0, threshold * 2)
            inputs = _burn_inputs(slo, {long: ratio, short: ratio}, plenty, 0, samples)
            name = (
                f"The {severity} {slo} burn at {factor * 2:g}x stays quiet while Prometheus holds "
                f"no scrape of the target from the first tenth of its {long} window"
            )
            group = _group(name, inputs, alert, labels, ratio, False, for_minutes, onset=0)
            cases.append(Case(name, group, "marketplace_burn_rate.yml"))
    return cases
