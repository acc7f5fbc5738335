"""Every PromQL panel of the dashboards computes what its title says, on a stack whose
conditions are known: every v2 search is delayed 250 ms, a quarter of v1's API requests fail,
the load generator sends a fixed rate to each variant and Prometheus scrapes every second.

Expected figures come from those conditions: v2's searches all fall in the (0.2, 0.5] bucket,
which histogram_quantile reads as 0.485 at p95 (0.35 at p50); an error ratio of 0.25; so many
requests a second. Where the conditions fix no number (v1's own SPARQL latency, the cache hit
rate of a Zipf mix) the figure comes from the raw counters, computed here in Python,
independently of the panel's PromQL. One stack serves every case; the values are read at one
instant after a full rate window under the conditions.
"""

from __future__ import annotations

import json
import math
import time

import pytest
from livestack import DASHBOARDS_DIR, LiveStack, running, stack_on_free_ports
from test_promql import BUILTINS, panels, substitute

from ops.polling import polls

pytestmark = pytest.mark.integration

RATE = 6.0  # load generator requests per second, per variant
SEARCH_SHARE = 0.80  # the load generator's default mix (marketplace.loadgen.mix.Mix)
V2_SEARCH_DELAY_S = 0.250  # inside (0.2, 0.5], with 250 ms to spare for a loaded machine
V1_ERROR_RATE = 0.25
SCRAPES_PER_S = 1.0  # the integration stacks scrape every second
WINDOW = "1m"  # $__rate_interval as test_promql substitutes it
# The spec's objectives (docs/alerting.md), written here rather than read from the rules.
OBJECTIVES = {
    "search_latency": 0.95,
    "lookup_latency": 0.95,
    "cache_hit": 0.80,
    "errors": 0.99,
    "availability": 0.999,
}
DASHBOARDS = ("marketplace-slo", "marketplace-compare")
# All v2 searches land in the (0.2, 0.5] bucket: histogram_quantile interpolates q within it.
V2_P95 = (0.2 + 0.90 * 0.3, 0.5)  # p95 = 0.485 when all are in it; p50 would give 0.35


@pytest.fixture(scope="module")
def known(tmp_path_factory) -> tuple[LiveStack, float]:
    """(the stack, the instant every panel is read at)."""
    stack = stack_on_free_ports(tmp_path_factory.mktemp("dashboard-values"), loadgen_rate=RATE)
    with running(stack) as live:
        stack.set_faults("marketplace-v2", search_latency_ms=V2_SEARCH_DELAY_S * 1000)
        stack.set_faults("marketplace-v1", error_rate=V1_ERROR_RATE)
        conditions_set = time.time()
        time.sleep(reading_instant(conditions_set) - conditions_set)
        yield live, every_sli_in_the_slo_window(live)


def reading_instant(conditions_set: float) -> float:
    """One full rate window under the conditions plus two scrapes, and no earlier than two
    scrapes after the first minute boundary 30 s into the conditions: the SLO window is a
    subquery at 1m steps aligned to the minute, and only its steps see the SLIs. Without that
    boundary, the window's one step could fall a few seconds after start, before rate() has two
    scrapes of the search counters (a CI run read only availability's, which comes from `up`),
    or with too few searches to show the injected faults."""
    boundary = math.ceil((conditions_set + 30) / 60) * 60
    return max(conditions_set + 60 + 5, boundary + 2)


@pytest.mark.parametrize("second", [0.0, 7.5, 29.9, 30.0, 31.0, 58.9, 59.99])
def test_the_panels_are_read_after_a_minute_step_that_saw_30_s_of_the_conditions(second):
    conditions_set = 1_796_224_380 + second  # a minute boundary, then `second` into it
    at = reading_instant(conditions_set)
    last_step = math.floor(at / 60) * 60
    assert at >= conditions_set + 65
    assert conditions_set + 30 <= last_step <= at - 2
    assert at <= conditions_set + 92


def every_sli_in_the_slo_window(live: LiveStack) -> float:
    """Now, once the SLO window holds every SLI series that the 1h ratio rule records."""
    for _ in polls(timeout=30, interval=1):
        now = time.time()
        slis = slo_values(evaluate(live, now, "marketplace:slo:sli_error:ratio_rate1h >= 0"))
        if slis and set(slo_values(evaluate(live, now, COMPLIANCE_EXPR))) == set(slis):
            return now
    pytest.fail(f"the SLO window had not seen every SLI series {sorted(slis)} after 30 s")


def targets(stem: str) -> list[tuple[str, str, str]]:
    """(panel title, legend, expression) of every PromQL target of a dashboard."""
    dashboard = json.loads((DASHBOARDS_DIR / f"{stem}.json").read_text())
    found = []
    for panel in panels(dashboard["panels"]):
        for target in panel.get("targets", []):
            if target.get("expr") and not target.get("hide"):
                found.append((panel["title"], target.get("legendFormat", ""), target["expr"]))
    return found


def evaluate(live: LiveStack, at: float, expr: str) -> list[tuple[dict, float]]:
    values = dict(BUILTINS, version="(v1|v2)")
    series = live.query(substitute(expr, values), at=at)
    return [(s["metric"], float(s["value"][1])) for s in series]


def by(series: list[tuple[dict, float]], *labels: str) -> dict[tuple, float]:
    return {tuple(m.get(k) for k in labels): v for m, v in series}


# ---- independent figures from the raw counters -------------------------------------------------


def increases(live: LiveStack, at: float, selector: str, *labels: str) -> dict[tuple, float]:
    """last - first sample of each counter series over the window ending at `at`."""
    found = {}
    for series in live.query(f"{selector}[{WINDOW}]", at=at):
        points = [float(v) for _, v in series["values"]]
        key = tuple(series["metric"].get(k) for k in labels)
        found[key] = found.get(key, 0.0) + (points[-1] - points[0] if len(points) > 1 else 0.0)
    return found


def quantile(q: float, buckets: dict[float, float]) -> float:
    """histogram_quantile's interpolation over cumulative bucket counts, written anew."""
    edges = sorted(buckets)
    total = buckets[math.inf]
    if total <= 0:
        return math.nan
    rank = q * total
    lower, below = 0.0, 0.0
    for edge in edges:
        if buckets[edge] >= rank:
            if edge == math.inf:
                return lower
            return lower + (edge - lower) * (rank - below) / (buckets[edge] - below)
        lower, below = edge, buckets[edge]
    return math.nan


def raw_p95(live, at, metric: str, version: str, **labels: str) -> float:
    matchers = ", ".join([f'version="{version}"'] + [f'{k}="{v}"' for k, v in labels.items()])
    counts = increases(live, at, f"{metric}_bucket{{{matchers}}}", "le")
    return quantile(0.95, {float(le): count for (le,), count in counts.items()})


# ---- the expectations, one per panel target ---------------------------------------------------


def check_search_p95(live, at, series):
    values = by(series, "version")
    assert V2_P95[0] <= values[("v2",)] <= V2_P95[1], values
    assert values[("v1",)] == pytest.approx(
        raw_p95(live, at, "marketplace_search_duration_seconds", "v1"), rel=0.05
    )


def check_search_error_ratio(live, at, series):
    values = by(series, "version")
    assert values[("v2",)] == 0
    assert abs(values[("v1",)] - V1_ERROR_RATE) <= 0.1, values


def check_http_error_ratio(live, at, series):
    values = by(series, "version")
    assert values[("v2",)] == 0
    # API requests fail at the injected rate; the scrapes of /metrics never do.
    low = V1_ERROR_RATE * RATE / (RATE + SCRAPES_PER_S + 1) - 0.1
    assert low <= values[("v1",)] <= V1_ERROR_RATE + 0.1, values
    errors = increases(live, at, 'marketplace_http_requests_total{version="v1", code=~"5.."}')
    every = increases(live, at, 'marketplace_http_requests_total{version="v1"}')
    assert values[("v1",)] == pytest.approx(sum(errors.values()) / sum(every.values()), abs=0.03)


def check_all_requests(live, at, series):
    for version, value in by(series, "version").items():
        assert RATE * 0.8 <= value <= (RATE + SCRAPES_PER_S) * 1.25 + 0.5, (version, value)


def check_searches(live, at, series):
    for version, value in by(series, "version").items():
        assert value == pytest.approx(RATE * SEARCH_SHARE, rel=0.25), (version, value)


def check_throughput_by_route(live, at, series):
    values = by(series, "version", "route")
    for version in ("v1", "v2"):
        assert values[(version, "/metrics")] == pytest.approx(SCRAPES_PER_S, rel=0.2)
        search = values[(version, "/api/v1/search")]
        assert search == pytest.approx(RATE * SEARCH_SHARE, rel=0.25), (version, search)


def check_cache_hit_rate(live, at, series, *labels):
    values = by(series, "version", *labels)
    assert all(key[0] == "v2" for key in values), "v1 has no cache: no series for it"
    assert values
    for key, value in values.items():
        assert 0 <= value <= 1
        cache = {"cache": key[1]} if labels else {}
        matchers = ", ".join(['version="v2"'] + [f'{k}="{v}"' for k, v in cache.items()])
        hits = sum(increases(live, at, f"marketplace_cache_hits_total{{{matchers}}}").values())
        misses = sum(increases(live, at, f"marketplace_cache_misses_total{{{matchers}}}").values())
        assert value == pytest.approx(hits / (hits + misses), abs=0.02), key
    # The Zipf mix repeats popular terms: most searches of a warm cache are hits.
    search = values[("v2", "search")] if labels else values[("v2",)]
    assert search > 0.3


def check_raw_p95(metric, *labels):
    def check(live, at, series):
        values = by(series, "version", *labels)
        assert {key[0] for key in values} == {"v1", "v2"}
        for key, value in values.items():
            extra = dict(zip(labels, key[1:], strict=True))
            expected = raw_p95(live, at, metric, key[0], **extra)
            if math.isnan(expected):
                assert math.isnan(value), key
            else:
                assert value == pytest.approx(expected, rel=0.05), key

    return check


def check_memory(live, at, series):
    for version, value in by(series, "version").items():
        assert 20e6 <= value <= 1.5e9, (version, value)


def slo_values(series):
    return by(series, "slo", "version")


def check_compliance(live, at, series):
    values = slo_values(series)
    assert all(0 <= v <= 1 for v in values.values()), values
    assert values[("errors", "v2")] == 1
    assert values[("errors", "v1")] < 0.95  # spending 25x its 1% budget
    assert values[("search_latency", "v2")] < 0.8  # (nearly) every v2 search is slow


def check_budget_remaining(live, at, series):
    values = slo_values(series)
    compliance = slo_values(evaluate(live, at, COMPLIANCE_EXPR))
    assert set(values) == set(compliance)
    for (slo, version), value in values.items():
        expected = 1 - (1 - compliance[(slo, version)]) / (1 - OBJECTIVES[slo])
        assert value == pytest.approx(expected, abs=1e-6), (slo, version)
    assert values[("errors", "v2")] == 1
    assert values[("errors", "v1")] < 0


def check_burn_rate(live, at, series):
    values = slo_values(series)
    assert values[("errors", "v2")] == 0
    # The 1h window holds the stack's whole life: a few fault-free seconds, then 25% errors. The
    # upper bound is the error-ratio panel's +0.1: ~300 searches give the injected 25% a standard
    # deviation of 2.5 points, and a run measured 30.1% (1.2x, the bound this had before). A
    # burn rate not divided by the budget (0.25) or counted twice (50) stays far outside.
    assert 0.5 * V1_ERROR_RATE / 0.01 <= values[("errors", "v1")] <= (V1_ERROR_RATE + 0.1) / 0.01
    assert 0.5 / 0.05 <= values[("search_latency", "v2")] <= 1 / 0.05 + 1e-9


def check_spec_compliance(live, at, series):
    values = by(series, "version")
    assert 0 <= values[("v1",)] <= 1
    assert values[("v2",)] <= 0.5  # 5-minute window: every search since the first minute slow


def check_spec_budget(live, at, series):
    values = by(series, "version")
    compliance = by(evaluate(live, at, "marketplace:slo:search_latency:compliance"), "version")
    for version, value in values.items():
        assert value == pytest.approx(1 - (1 - compliance[version]) / 0.05, abs=1e-6)
    assert values[("v2",)] < 0


def check_p95_ratio(live, at, series):
    ((_, value),) = series
    v1 = raw_p95(live, at, "marketplace_search_duration_seconds", "v1")
    v2 = raw_p95(live, at, "marketplace_search_duration_seconds", "v2")
    assert value == pytest.approx(v1 / v2, rel=0.05)
    assert V2_P95[0] <= v2 <= V2_P95[1]


COMPLIANCE_EXPR = next(
    expr
    for title, _, expr in targets("marketplace-slo")
    if title == "SLO compliance over the SLO window"
)
SEARCH_P95 = check_search_p95
EXPECTED = {
    ("marketplace-slo", "Search latency p95", "{{version}} p95"): SEARCH_P95,
    ("marketplace-slo", "Cache hit rate", "{{version}}"): check_cache_hit_rate,
    ("marketplace-slo", "Search error rate", "{{version}}"): check_search_error_ratio,
    ("marketplace-slo", "Request volume", "{{version}} searches"): check_searches,
    ("marketplace-slo", "Request volume", "{{version}} all requests"): check_all_requests,
    ("marketplace-slo", "RDF query latency p95", "{{version}} {{query}}"): check_raw_p95(
        "marketplace_rdf_query_duration_seconds", "query"
    ),
    ("marketplace-slo", "SLO compliance over the SLO window", "{{slo}} {{version}}"): (
        check_compliance
    ),
    ("marketplace-slo", "Error budget remaining", "{{slo}} {{version}}"): check_budget_remaining,
    ("marketplace-slo", "Error budget burn rate (1h)", "{{slo}} {{version}}"): check_burn_rate,
    (
        "marketplace-slo",
        "Search latency SLO (the spec's recording rules)",
        "{{version}} compliance",
    ): check_spec_compliance,
    (
        "marketplace-slo",
        "Search latency SLO (the spec's recording rules)",
        "{{version}} budget remaining",
    ): check_spec_budget,
    ("marketplace-compare", "Search p95", "{{version}}"): SEARCH_P95,
    ("marketplace-compare", "HTTP error rate", "{{version}}"): check_http_error_ratio,
    ("marketplace-compare", "Throughput", "{{version}}"): check_all_requests,
    ("marketplace-compare", "Search p95 ratio v1 / v2", "v1 / v2"): check_p95_ratio,
    ("marketplace-compare", "Search latency p95 by version", "{{version}} p95"): SEARCH_P95,
    ("marketplace-compare", "Error rate by version", "{{version}} HTTP 5xx"): (
        check_http_error_ratio
    ),
    ("marketplace-compare", "Error rate by version", "{{version}} search errors"): (
        check_search_error_ratio
    ),
    ("marketplace-compare", "Throughput by version", "{{version}} {{route}}"): (
        check_throughput_by_route
    ),
    ("marketplace-compare", "Cache hit rate by version", "{{version}} {{cache}}"): (
        lambda live, at, series: check_cache_hit_rate(live, at, series, "cache")
    ),
    ("marketplace-compare", "Lookup and install latency p95 by version", "{{version}} lookup"): (
        check_raw_p95("marketplace_lookup_duration_seconds")
    ),
    ("marketplace-compare", "Lookup and install latency p95 by version", "{{version}} install"): (
        check_raw_p95("marketplace_install_duration_seconds")
    ),
    ("marketplace-compare", "Resident memory by version", "{{version}}"): check_memory,
}
CASES = [
    (stem, title, legend, expr) for stem in DASHBOARDS for title, legend, expr in targets(stem)
]


def test_every_promql_target_has_an_expected_figure():
    """A new panel without an expectation here fails, instead of going unchecked."""
    assert {(stem, title, legend) for stem, title, legend, _ in CASES} == set(EXPECTED)


@pytest.mark.parametrize(
    ("stem", "title", "legend", "expr"),
    CASES,
    ids=[f"{stem}:{title}:{legend}" for stem, title, legend, _ in CASES],
)
def test_the_panel_computes_what_its_title_says(known, stem, title, legend, expr):
    live, at = known
    series = evaluate(live, at, expr)
    assert series, f"{title} ({legend}) returned nothing"
    EXPECTED[(stem, title, legend)](live, at, series)


def test_the_quantile_interpolation_used_for_the_expected_figures():
    buckets = {0.1: 0.0, 0.2: 0.0, 0.5: 100.0, math.inf: 100.0}
    assert quantile(0.95, buckets) == pytest.approx(0.485)
    assert quantile(0.5, buckets) == pytest.approx(0.35)
    assert quantile(0.95, {0.1: 10.0, math.inf: 20.0}) == 0.1
    assert math.isnan(quantile(0.95, {0.1: 0.0, math.inf: 0.0}))
