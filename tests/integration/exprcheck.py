"""What a rule or panel expression must return on the live stack, and the few places it need not.

- `strip_thresholds(expr)` takes an alert's comparisons against constants out (`up == 0` -> `up`,
  `(a > (14.4 * (1 - 0.95)) and b > ...)` -> `(a and b)`), so that the rest, the alert's inputs,
  can be required to return data while nothing is wrong.
- NaN is not data: a rule broken into 0/0 for both variants would otherwise pass. v1 has no cache
  (it answers every search by SPARQL), so whatever divides by its cache lookups is 0/0 for v1 by
  design; those series are listed here, and the tests assert they are NaN or absent, and finite
  everywhere else.
"""

from __future__ import annotations

import math
import re

# A constant operand: a number, or parentheses holding only numbers and arithmetic (one level of
# nesting: the burn-rate thresholds are written `(14.4 * (1 - 0.95))`).
_ARITH = r"[\d.\s+\-*/eE]"
_CONST = rf"(?:[-+]?\d[\d.]*(?:[eE][-+]?\d+)?|\((?:{_ARITH}|\({_ARITH}*\))*\))"
_THRESHOLD = re.compile(
    rf"\s*(?:==|!=|>=|<=|>|<)\s*(?:bool\s+)?{_CONST}(?=\s*(?:\)|$|\b(?:and|or|unless)\b))"
)


def strip_thresholds(expr: str) -> str:
    """The expression without its comparisons against constants (the alert's thresholds)."""
    return " ".join(_THRESHOLD.sub("", expr).split())


def has_threshold(expr: str) -> bool:
    return _THRESHOLD.search(expr) is not None


# ---- where v1 legitimately has no finite value ---------------------------------------------------
# Recording rules, as (record, value of their `slo` label or None): every window of the cache SLO
# and the cache hit rate divide by v1's cache lookups, of which there are none.
V1_NAN_RECORDS = frozenset(
    {("marketplace:cache:hit_rate", None)}
    | {
        (f"marketplace:slo:sli_error:ratio_rate{window}", "cache_hit")
        for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d")
    }
)
# Alert rules whose inputs, thresholds stripped, are those same ratios for v1.
V1_NAN_ALERTS = frozenset({"MarketplaceLowCacheHitRate", "MarketplaceCacheHitBudgetBurn"})
# Dashboard panels, as (dashboard file stem, panel title).
V1_NAN_PANELS = frozenset(
    {("marketplace-slo", "Cache hit rate"), ("marketplace-compare", "Cache hit rate by version")}
)
# Panels with one series per RDF query name: v2 answers searches and lookups from its own index,
# so only some of its query names are ever observed and the others are 0/0. Each version still
# needs a finite series.
PARTLY_NAN_PANELS = frozenset({("marketplace-slo", "RDF query latency p95")})
# Alert rules whose inputs carry no `version` label (not per variant): any sample will do.
UNVERSIONED_ALERTS = frozenset({"Watchdog"})
VERSIONS = ("v1", "v2")


def values_by_version(series: list[dict]) -> dict[str | None, list[float]]:
    """{version label (None when absent): [values]} of an instant query's result."""
    found: dict[str | None, list[float]] = {}
    for item in series:
        found.setdefault(item["metric"].get("version"), []).append(float(item["value"][1]))
    return found


def finite_gaps(
    series: list[dict],
    versions: tuple[str | None, ...] = VERSIONS,
    *,
    nan_for: frozenset[str] | set[str] = frozenset(),
    partly_nan: bool = False,
) -> list[str]:
    """What is wrong with an instant query's result, [] if nothing.

    Each of `versions` needs values that are all finite (with `partly_nan`, at least one);
    a version in `nan_for` must instead have NaN or nothing at all.
    """
    found = values_by_version(series)
    gaps = []
    for version in versions:
        values = found.get(version, [])
        finite = [v for v in values if math.isfinite(v)]
        if version in nan_for:
            if finite:
                gaps.append(f"{version}: {values}, where NaN or nothing is expected")
        elif not finite or (len(finite) < len(values) and not partly_nan):
            gaps.append(f"{version}: {values or 'absent'}, not all finite")
    return gaps
