"""The non-SLO sections of the SLO review: cache hit rate and alerts that fired.

Each returns a model.Section (title, columns, rows for people, records for JSON, and the data
source). The slowest searches have their own module, searches.py.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from ops.promapi import OpsError, Prometheus, human_duration, promql_duration
from ops.slo.model import Section


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _pct(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.1f}%"


# ---------------------------------------------------------------- cache


def cache_rows(
    hits: dict[str, float], misses: dict[str, float], current: dict[str, float]
) -> list[dict]:
    records = []
    for cache in sorted(set(hits) | set(misses)):
        h, m = hits.get(cache, 0.0), misses.get(cache, 0.0)
        records.append(
            {
                "cache": cache,
                "hits": round(h),
                "misses": round(m),
                "hit_rate": h / (h + m) if h + m else None,
                "hit_rate_5m": current.get(cache),
            }
        )
    if len(records) > 1:
        h, m = sum(hits.values()), sum(misses.values())
        records.append(
            {
                "cache": "all",
                "hits": round(h),
                "misses": round(m),
                "hit_rate": h / (h + m) if h + m else None,
                "hit_rate_5m": current.get("all"),
            }
        )
    return records


def cache_section(prom: Prometheus, version: str, period: float, now: float) -> Section:
    section = Section(
        "Cache hit rate", ["Cache", "Hits", "Misses", "Hit rate (period)", "Hit rate (5m)"]
    )
    sel = f'{{job="marketplace", version="{version}"}}'
    rng = promql_duration(period)

    def by_cache(expr: str) -> dict[str, float]:
        return {
            s["metric"].get("cache", "all"): float(s["value"][1]) for s in prom.query(expr, now)
        }

    try:
        hits = by_cache(f"sum by (cache) (increase(marketplace_cache_hits_total{sel}[{rng}]))")
        misses = by_cache(f"sum by (cache) (increase(marketplace_cache_misses_total{sel}[{rng}]))")
        hits_5m = f"sum by (cache) (rate(marketplace_cache_hits_total{sel}[5m]))"
        misses_5m = f"sum by (cache) (rate(marketplace_cache_misses_total{sel}[5m]))"
        current = by_cache(f"{hits_5m} / ({hits_5m} + {misses_5m})")
        overall = by_cache(f'marketplace:cache:hit_rate{{version="{version}"}}')
        if overall:
            current["all"] = next(iter(overall.values()))
    except OpsError as exc:
        section.note = f"not available: {exc}"
        return section
    section.records = cache_rows(hits, misses, current)
    section.rows = [
        [r["cache"], str(r["hits"]), str(r["misses"]), _pct(r["hit_rate"]), _pct(r["hit_rate_5m"])]
        for r in section.records
    ]
    section.source = (
        "Prometheus: increase of marketplace_cache_hits_total and _misses_total "
        f"over {human_duration(period)}"
    )
    if not section.records:
        section.note = "no cache counters for this version in the period"
    return section


# ---------------------------------------------------------------- alerts


def alert_records(firing: list[dict], for_state: list[dict], interval: float) -> list[dict]:
    """Join ALERTS firing sample counts with ALERTS_FOR_STATE's first activeAt per label set."""

    def key(metric: dict) -> tuple:
        return tuple(
            sorted((k, v) for k, v in metric.items() if k not in ("__name__", "alertstate"))
        )

    active_at = {key(s["metric"]): float(s["value"][1]) for s in for_state}
    records = []
    for sample in firing:
        labels = sample["metric"]
        since = active_at.get(key(labels))
        records.append(
            {
                "alertname": labels.get("alertname", "?"),
                "severity": labels.get("severity", ""),
                "labels": {k: v for k, v in labels.items() if k not in ("__name__", "alertstate")},
                "firing_seconds": float(sample["value"][1]) * interval,
                "first_active": _iso(since) if since else None,
            }
        )
    return sorted(records, key=lambda r: (-r["firing_seconds"], r["alertname"]))


def alerts_section(prom: Prometheus, period: float, interval: float, now: float) -> Section:
    section = Section(
        "Alerts that fired", ["Alert", "Severity", "Labels", "Firing for (≈)", "First active"]
    )
    rng = promql_duration(period)
    sel = '{alertname!="Watchdog"}'
    try:
        firing = prom.query(
            f'count_over_time(ALERTS{{alertstate="firing", alertname!="Watchdog"}}[{rng}])', now
        )
        for_state = prom.query(f"min_over_time(ALERTS_FOR_STATE{sel}[{rng}])", now)
    except OpsError as exc:
        section.note = f"not available: {exc}"
        return section
    section.records = alert_records(firing, for_state, interval)
    skip = {"alertname", "severity", "component", "job"}
    for r in section.records:
        extra = ", ".join(f"{k}={v}" for k, v in sorted(r["labels"].items()) if k not in skip)
        section.rows.append(
            [
                r["alertname"],
                r["severity"],
                extra or "-",
                human_duration(r["firing_seconds"]),
                r["first_active"] or "-",
            ]
        )
    section.source = (
        f"Prometheus ALERTS / ALERTS_FOR_STATE over {human_duration(period)} "
        f"(rule evaluation every {interval:g}s; Watchdog left out: it always fires)"
    )
    if not section.records:
        section.note = "no alert fired in the period"
    return section
