"""The SLO review's slowest searches: from Loki when it answers, else from the service's JSON
log files in the run directory, else from Prometheus's search-duration histogram (no per-query
detail there).
"""

from __future__ import annotations

import glob
import json
import math
import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from ops.promapi import Endpoints, OpsError, Prometheus, get_json, http, promql_duration
from ops.slo.model import Section
from ops.stack import topology

RUN_DIR = topology.REPO_ROOT / ".run"  # the native launcher's (ops.stack.launcher.RUN_DIR)
SEARCH_DONE = "Search completed"


def _opt(value: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if value is None else fmt.format(value)


def aggregate_searches(events: Iterable[dict], top: int) -> list[dict]:
    """Per query: count, max and mean duration (ms); the `top` slowest by max."""
    stats: dict[str, list[float]] = {}
    for event in events:
        stats.setdefault(str(event.get("query", "")), []).append(float(event["duration_ms"]))
    ranked = sorted(stats.items(), key=lambda kv: max(kv[1]), reverse=True)[:top]
    return [
        {
            "query": q,
            "count": len(d),
            "max_ms": round(max(d), 1),
            "mean_ms": round(sum(d) / len(d), 1),
        }
        for q, d in ranked
    ]


def search_events(lines: Iterable[str], version: str, since: float) -> Iterable[dict]:
    """'Search completed' events of one variant at or after `since`, from JSON log lines."""
    for line in lines:
        if SEARCH_DONE not in line:
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("message") != SEARCH_DONE or "duration_ms" not in event:
            continue
        if event.get("variant", version) != version:
            continue
        stamp = str(event.get("timestamp", ""))
        try:
            if datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() < since:
                continue
        except ValueError:
            pass
        yield event


JSON_LOGS = "marketplace-v*.json.log"  # MARKETPLACE_LOG_FILE, as the native launcher sets it
STDOUT_LOGS = "marketplace-v*.log"  # each process's stdout and stderr (ops.stack.procs)


def log_files(patterns: list[str] | None, run_dir: Path = RUN_DIR) -> list[Path]:
    """The files named by `patterns`, else the service logs in the native run directory.

    The native launcher sets MARKETPLACE_LOG_FILE=.run/logs/<component>.json.log, where the service
    writes its JSON lines, and sends the process's stdout (the same lines, among others) to
    .run/logs/<component>.log. Per variant, the first is read when it exists and the second only
    when it does not: never both, or each search would count twice.
    """
    if patterns:
        found = {Path(p) for pattern in patterns for p in glob.glob(pattern, recursive=True)}
        return sorted(p for p in found if p.is_file())
    logs = run_dir / "logs"
    chosen: dict[str, Path] = {}
    for path in logs.glob(JSON_LOGS):
        chosen[path.name.removesuffix(".json.log")] = path
    for path in logs.glob(STDOUT_LOGS):
        name = path.name.removesuffix(".log")
        if not path.name.endswith(".json.log") and name not in chosen:
            chosen[name] = path
    return sorted(p for p in chosen.values() if p.is_file())


def _from_files(files: list[Path], version: str, since: float, top: int) -> list[dict]:
    def lines() -> Iterable[str]:
        for path in files:
            with path.open(encoding="utf-8", errors="replace") as handle:
                yield from handle

    return aggregate_searches(search_events(lines(), version, since), top)


def _logql(loki: str, expr: str, now: float) -> dict[str, float]:
    body = get_json(
        f"{loki}/loki/api/v1/query", params={"query": expr, "time": f"{now:.0f}"}, timeout=30
    )
    return {s["metric"].get("query", ""): float(s["value"][1]) for s in body["data"]["result"]}


def query_matcher(queries: list[str]) -> str:
    """A LogQL label matcher for exactly these queries (a raw-string regex of escaped literals)."""
    literal = [re.escape(q) for q in queries if "`" not in q]
    return f"| query=~`{'|'.join(literal)}`" if literal else ""


def loki_slowest(loki: str, version: str, period: float, now: float, top: int) -> list[dict]:
    stream = f'{{service="marketplace", version="{version}"}} | json | message="{SEARCH_DONE}"'
    rng = promql_duration(period)
    slowest = _logql(
        loki,
        f"topk({top}, max by (query) (max_over_time({stream} | unwrap duration_ms [{rng}])))",
        now,
    )
    ranked = sorted(slowest.items(), key=lambda kv: kv[1], reverse=True)[:top]
    if not ranked:
        return []
    # Mean and count only for the top queries: grouping every distinct query could exceed Loki's
    # series limit (max_query_series) on a busy week.
    only = f"{stream} {query_matcher([q for q, _ in ranked])}"
    mean = _logql(loki, f"avg by (query) (avg_over_time({only} | unwrap duration_ms [{rng}]))", now)
    count = _logql(loki, f"sum by (query) (count_over_time({only} [{rng}]))", now)
    return [
        {
            "query": q,
            "count": round(count[q]) if q in count else None,
            "max_ms": round(m, 1),
            "mean_ms": round(mean[q], 1) if q in mean else None,
        }
        for q, m in ranked
    ]


def loki_ready(loki: str) -> bool:
    try:
        return http("GET", f"{loki}/ready", timeout=2).status_code == 200
    except OpsError:
        return False


def slow_queries_section(
    ep: Endpoints,
    prom: Prometheus,
    version: str,
    period: float,
    now: float,
    top: int,
    patterns: list[str] | None,
    run_dir: Path = RUN_DIR,
) -> Section:
    section = Section("Slowest searches", ["Query", "Searches", "Max (ms)", "Mean (ms)"])
    records: list[dict] = []
    if loki_ready(ep.loki):
        try:
            records = loki_slowest(ep.loki, version, period, now, top)
            section.source = f"Loki ({ep.loki}): LogQL over duration_ms of '{SEARCH_DONE}' lines"
        except (OpsError, KeyError) as exc:
            section.note = f"Loki query failed ({exc}); "
    if not section.source:
        files = log_files(patterns, run_dir)
        if files:
            records = _from_files(files, version, now - period, top)
            names = ", ".join(
                str(
                    p.relative_to(topology.REPO_ROOT) if p.is_relative_to(topology.REPO_ROOT) else p
                )
                for p in files[:4]
            )
            section.source = f"service log files (Loki not reachable): {names}" + (
                " ..." if len(files) > 4 else ""
            )
    if section.source:
        section.records = records
        section.rows = [
            [r["query"] or "(empty)", _opt(r["count"], "{}"), _opt(r["max_ms"]), _opt(r["mean_ms"])]
            for r in records
        ]
        if not records:
            section.note += "no completed searches in the period"
        return section
    return _histogram_fallback(section, prom, version, period, now)


def _histogram_fallback(
    section: Section, prom: Prometheus, version: str, period: float, now: float
) -> Section:
    section.columns = ["Quantile", "Search duration (ms)"]
    section.source = (
        "Prometheus histogram marketplace_search_duration_seconds (no Loki, no log files)"
    )
    section.note += (
        "per-query detail needs Loki or the service's log files; quantiles over the period"
    )
    rng = promql_duration(period)
    for q in (0.5, 0.95, 0.99):
        expr = (
            f"histogram_quantile({q}, sum by (le) (increase("
            f'marketplace_search_duration_seconds_bucket{{job="marketplace", version="{version}"}}'
            f"[{rng}])))"
        )
        try:
            result = prom.query(expr, now)
        except OpsError:
            result = []
        value = float(result[0]["value"][1]) * 1000 if result else float("nan")
        section.records.append(
            {"quantile": q, "duration_ms": None if math.isnan(value) else round(value, 1)}
        )
        section.rows.append([f"p{round(q * 100)}", "-" if math.isnan(value) else f"{value:.1f}"])
    return section
