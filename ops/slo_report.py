"""The weekly SLO review: compliance, error budget and burn rate of the spec's five SLOs.

Besides the SLOs: the cache hit rate, the slowest searches and the alerts that fired.

    python -m ops.slo_report [--window 7d] [--version v2] [--format table|json|markdown]
                             [--png FILE]

Compliance over a window is 1 - the mean of every recorded sample of the 5-minute SLI error ratio
(`marketplace:slo:sli_error:ratio_rate5m`) in the window, NaN (no traffic) left out, from one
instant query: `avg_over_time((max(<ratio_rate5m>) >= 0)[<window>:<evaluation interval>])`.
query_range serves only the chart. When Prometheus holds less than the window, the report uses the
data it has and says how much that is.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from rich.console import Console

from ops import slo_sources, topology
from ops._http import (
    Endpoints,
    OpsError,
    Prometheus,
    human_duration,
    parse_duration,
    promql_duration,
    sample_value,
)
from ops.slo_render import render_json, render_png, render_rich

RECORDING_RULES = topology.REPO_ROOT / "prometheus" / "rules" / "marketplace_recording.yml"
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


@dataclass
class SloResult:
    slo: str
    title: str
    objective: float
    window_seconds: float
    covered_seconds: float = 0.0
    compliance: float | None = None
    budget_remaining: float | None = None
    burn_rate_1h: float | None = None
    # (epoch, budget remaining so far) for the chart
    budget_series: list[tuple[float, float]] = field(default_factory=list)

    @property
    def met(self) -> bool | None:
        return None if self.compliance is None else self.compliance >= self.objective

    @property
    def coverage_note(self) -> str:
        if self.covered_seconds >= self.window_seconds * 0.99:
            return f"full {human_duration(self.window_seconds)}"
        pct = 100 * self.covered_seconds / self.window_seconds if self.window_seconds else 0
        have, want = human_duration(self.covered_seconds), human_duration(self.window_seconds)
        return f"{have} of {want} ({pct:.1f}%)" if pct >= 0.1 else f"{have} of {want} ({pct:.2g}%)"


@dataclass
class Report:
    generated_at: float
    version: str
    window_label: str
    slos: list[SloResult]
    cache: slo_sources.Section
    slow_queries: slo_sources.Section
    alerts: slo_sources.Section
    errors: list[str] = field(default_factory=list)


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
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    for group in doc.get("groups") or []:
        for rule in group.get("rules") or []:
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
    run_dir: Path = slo_sources.RUN_DIR,
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
        cache=slo_sources.cache_section(prom, version, period, now),
        slow_queries=slo_sources.slow_queries_section(
            ep, prom, version, period, now, top, logs, run_dir
        ),
        alerts=slo_sources.alerts_section(prom, period, interval, now),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops.slo_report", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--window", help="review period for every SLO, e.g. 7d (default: each SLO's own)"
    )
    parser.add_argument("--version", default="v2", help="service variant to report on (default v2)")
    parser.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    parser.add_argument(
        "--png", metavar="FILE", help="also write a chart of the error budget over time"
    )
    parser.add_argument("--top", type=int, default=10, help="how many slow searches to list")
    parser.add_argument(
        "--logs",
        action="append",
        metavar="GLOB",
        help="service log files to read slow searches from when Loki is not reachable "
        "(default: the service logs under --run-dir)",
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=slo_sources.RUN_DIR,
        help="the native stack's run directory, whose logs/ hold the service logs (default .run)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        window = parse_duration(args.window) if args.window else None
        report = build_report(
            Endpoints.from_env(), args.version, window, args.top, args.logs, args.run_dir
        )
    except (OpsError, ValueError) as exc:
        Console(stderr=True).print(f"[red]slo-report failed:[/] {exc}")
        return 2
    if args.format == "json":
        print(render_json(report))
    else:
        render_rich(report, markdown=args.format == "markdown")
    if args.png:
        render_png(report, args.png)
        Console(stderr=True).print(f"error budget chart written to {args.png}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
