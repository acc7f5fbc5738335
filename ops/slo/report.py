"""The SLO review's figures: compliance, error budget and burn rate of the spec's five SLOs.

build_report adds the other sections (sources.py, searches.py) and returns a model.Report, which
render.py draws; nothing here formats output.

Compliance over a window is 1 - the mean of every recorded sample of the 5-minute SLI error ratio
(`marketplace:slo:sli_error:ratio_rate5m`) in the window, NaN (no traffic) left out, from one
instant query: `avg_over_time((max(<ratio_rate5m>) >= 0)[<window>:<evaluation interval>])`.
query_range serves only the chart. When Prometheus holds less than the window, the report uses the
data it has and says how much that is.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from ops import rulefiles
from ops.promapi import (
    Endpoints,
    Prometheus,
    human_duration,
    promql_duration,
    sample_value,
)
from ops.slo import searches, sources
from ops.slo.model import Report, SloResult

RECORDING_RULES = rulefiles.RULES_DIR / "marketplace_recording.yml"
# slo label -> title; {objective} and {budget} are filled in from the objective itself, so no
# figure of the recording rules is restated here. The latency thresholds are the rules' `le`.
TITLES: dict[str, str] = {
    "search_latency": "Search latency p{objective} < 200 ms",
    "lookup_latency": "Lookup latency p{objective} < 100 ms",
    "cache_hit": "Cache hit rate > {objective}%",
    "errors": "Error rate < {budget}%",
    "availability": "Availability > {objective}%",
}
_VECTOR = re.compile(r"^\s*vector\(\s*([0-9.eE+-]+)\s*\)\s*$")
MAX_POINTS = 500


# ---------------------------------------------------------------- pure maths (unit-tested)


def slo_title(slo: str, objective: float) -> str:
    template = TITLES.get(slo, slo)
    return template.format(
        objective=f"{round(100 * objective, 6):g}", budget=f"{round(100 * (1 - objective), 6):g}"
    )


def rule_file_definitions(path: Path = RECORDING_RULES) -> dict[str, tuple[str, float, float]]:
    """{slo: (title, objective, window days)} from the `marketplace:slo:objective` and
    `marketplace:slo:window_days` recording rules (`vector(<number>)` with an `slo` label)."""
    found: dict[str, dict[str, float]] = {"objective": {}, "window_days": {}}
    for _, _, rule in rulefiles.rules([path]):
        kind = str(rule.get("record", "")).removeprefix("marketplace:slo:")
        value = _VECTOR.match(str(rule.get("expr", "")))
        slo = (rule.get("labels") or {}).get("slo")
        if kind in found and value and slo:
            found[kind][slo] = float(value.group(1))
    objectives, windows = found["objective"], found["window_days"]
    return {
        slo: (slo_title(slo, objectives[slo]), objectives[slo], windows[slo])
        for slo in objectives
        if slo in windows
    }


def budget_remaining(error_ratio: float, objective: float) -> float:
    """Share of the error budget left: 1 at no errors, 0 when spent, negative when overspent."""
    return 1.0 - error_ratio / (1.0 - objective)


def burn_rate(error_ratio: float, objective: float) -> float:
    """How fast the budget burns: 1 spends exactly the budget over the window."""
    return error_ratio / (1.0 - objective)


def cumulative_budget(
    points: list[tuple[float, float]], objective: float
) -> list[tuple[float, float]]:
    """Budget remaining as the window fills up: at each point, over all the data up to it."""
    series, total, n = [], 0.0, 0
    for ts, value in points:
        if value != value:
            continue
        total, n = total + value, n + 1
        series.append((ts, budget_remaining(total / n, objective)))
    return series


def range_step(span: float, interval: float) -> float:
    """Query step: the evaluation interval, coarsened so a range has at most MAX_POINTS points."""
    return max(interval, span / MAX_POINTS, 1.0)


# ---------------------------------------------------------------- live queries


def slo_definitions(
    prom: Prometheus, rules: Path = RECORDING_RULES
) -> dict[str, tuple[str, float, float]]:
    """The live recording rules' objectives and windows; the rule file where Prometheus has none."""
    defs = rule_file_definitions(rules)
    objectives = {
        s["metric"].get("slo"): float(s["value"][1])
        for s in prom.query("max by (slo) (marketplace:slo:objective)")
    }
    windows = {
        s["metric"].get("slo"): float(s["value"][1])
        for s in prom.query("max by (slo) (marketplace:slo:window_days)")
    }
    for slo in set(objectives) | set(windows):
        if not slo:
            continue
        _, objective, days = defs.get(slo, (slo, float("nan"), float("nan")))
        objective, days = objectives.get(slo, objective), windows.get(slo, days)
        if objective == objective and days == days:  # both known (not NaN)
            defs[slo] = (slo_title(slo, objective), objective, days)
    return defs


def evaluate_slo(
    prom: Prometheus,
    slo: str,
    definition: tuple[str, float, float],
    version: str,
    window: float | None,
    interval: float,
    now: float,
) -> SloResult:
    title, objective, days = definition
    result = SloResult(slo, title, objective, window or days * 86400)
    sel = f'marketplace:slo:sli_error:ratio_rate5m{{slo="{slo}", version="{version}"}}'
    count = sample_value(
        prom.query(f"sum(count_over_time({sel}[{promql_duration(result.window_seconds)}]))", now),
        0.0,
    )
    result.covered_seconds = min(result.window_seconds, (count or 0.0) * interval)
    if not count:
        return result
    # Every recorded sample in the window: a subquery at the evaluation interval picks each one;
    # `>= 0` drops the NaN of moments without traffic, which would poison the mean.
    rng = f"{promql_duration(result.window_seconds)}:{promql_duration(interval)}"
    mean = sample_value(prom.query(f"avg_over_time((max({sel}) >= 0)[{rng}])", now))
    if mean is not None:
        result.compliance = 1.0 - mean
        result.budget_remaining = budget_remaining(mean, objective)
    # The chart only: a few hundred points are plenty to draw, not to average.
    span = max(result.covered_seconds, interval)
    series = prom.query_range(f"max({sel})", now - span, now, range_step(span, interval))
    points = [(float(t), float(v)) for t, v in series[0]["values"]] if series else []
    result.budget_series = cumulative_budget(points, objective)
    ratio_1h = sample_value(
        prom.query(
            f'max(marketplace:slo:sli_error:ratio_rate1h{{slo="{slo}", version="{version}"}})', now
        )
    )
    if ratio_1h is not None:
        result.burn_rate_1h = burn_rate(ratio_1h, objective)
    return result


def build_report(
    ep: Endpoints,
    version: str,
    window: float | None,
    top: int,
    logs: list[str] | None,
    run_dir: Path = searches.RUN_DIR,
) -> Report:
    prom = Prometheus(ep.prometheus, timeout=30)
    now = time.time()
    interval = prom.evaluation_interval()
    defs = slo_definitions(prom)
    slos = [evaluate_slo(prom, slo, defs[slo], version, window, interval, now) for slo in defs]
    # Besides the SLOs, the period is the explicit window, else the longest window with data.
    period = window or max((s.covered_seconds for s in slos), default=0.0) or 7 * 86400
    label = (
        human_duration(window)
        if window
        else f"each SLO's own window (data: {human_duration(period)})"
    )
    return Report(
        generated_at=now,
        version=version,
        window_label=label,
        slos=slos,
        cache=sources.cache_section(prom, version, period, now),
        slow_queries=searches.slow_queries_section(
            ep, prom, version, period, now, top, logs, run_dir
        ),
        alerts=sources.alerts_section(prom, period, interval, now),
    )
