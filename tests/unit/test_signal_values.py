"""Signal values, not just shapes: buckets as /metrics exposes them, seconds in every latency
histogram, and the search log line's cache_hit, duration_ms and result_count matching what
happened. Everything is read from the outside (the /metrics text and the log lines), so these
hold however the hot path is written.

The injected delays are lower bounds (time.sleep never returns early); the upper tolerances only
have to be far below the factor 1000 a millisecond/second mix-up gives, so a slow machine
cannot fail them.
"""

from __future__ import annotations

import io
import json
import logging
from collections import defaultdict

import pytest
from marketplace import logs
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.unit

# Written from the service's design (docs/service.md: fine at the low end where v2 lives, and
# every SLO threshold 0.05/0.1/0.2/0.5 a bucket edge), not read from marketplace.metrics: a
# histogram created with another list, or none, must fail here.
EXPECTED_LE = [
    "0.001",
    "0.0025",
    "0.005",
    "0.01",
    "0.025",
    "0.05",
    "0.1",
    "0.2",
    "0.5",
    "1.0",
    "2.5",
    "5.0",
    "10.0",
    "+Inf",
]
LATENCY_HISTOGRAMS = {
    "marketplace_search_duration_seconds",
    "marketplace_lookup_duration_seconds",
    "marketplace_install_duration_seconds",
    "marketplace_rdf_query_duration_seconds",
    "marketplace_http_request_duration_seconds",
}
# Seconds of slack above an injected delay: generous for a loaded machine, and still ~100x
# below what a value in milliseconds would show.
SLACK_S = 1.5


class Capture(logging.Handler):
    """Every record through the service's own JSON formatter, parsed back: the log lines."""

    def __init__(self, formatter: logging.Formatter) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(formatter)
        self.lines: list[dict] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(json.loads(self.format(record)))

    def messages(self, message: str) -> list[dict]:
        return [line for line in self.lines if line["message"] == message]


@pytest.fixture
def log_lines(settings):
    formatter = logs.handlers(settings, io.StringIO())[0].formatter
    capture = Capture(formatter)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    yield capture
    root.removeHandler(capture)
    root.setLevel(old_level)


def exposition(client) -> dict[str, list]:
    """Samples by name from the plain-text /metrics the test client gets."""
    response = client.get("/metrics")
    assert response.status_code == 200
    samples: dict[str, list] = defaultdict(list)
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[sample.name].append(sample)
    return samples


def value(samples: dict[str, list], name: str, **labels: str) -> float:
    (match,) = [s.value for s in samples[name] if s.labels == labels]
    return match


def exercise(client) -> None:
    assert client.get("/api/v1/search?q=web").status_code == 200
    assert client.get("/api/v1/packages/webframe").status_code == 200
    assert client.post("/api/v1/packages/webframe/install").status_code == 200


def inject(client, auth, **faults) -> None:
    response = client.put("/admin/faults", headers=auth, json=faults)
    assert response.status_code == 200, response.get_data(as_text=True)


# --- buckets --------------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_every_latency_histogram_exposes_exactly_the_documented_buckets(make_app, variant):
    client = make_app(variant=variant).test_client()
    exercise(client)
    samples = exposition(client)
    buckets = [s for name in LATENCY_HISTOGRAMS for s in samples[f"{name}_bucket"]]
    series: dict[tuple, list[str]] = defaultdict(list)
    for sample in buckets:
        labels = {k: v for k, v in sample.labels.items() if k != "le"}
        series[(sample.name, tuple(sorted(labels.items())))].append(sample.labels["le"])
    names = {name for name, _ in series}
    assert names == {f"{h}_bucket" for h in LATENCY_HISTOGRAMS}
    # one series per histogram at least, plus every RDF query name and every route answered
    assert len(series) >= len(LATENCY_HISTOGRAMS) + 4
    for key, les in series.items():
        assert les == EXPECTED_LE, key


def test_the_slo_bucket_edges_are_exposed_as_the_rules_spell_them(client):
    """The rules select `le="0.2"` and `le="0.1"` as strings: `0.20` or `2e-01` would match
    nothing and every good-request ratio would read 0."""
    exercise(client)
    text = client.get("/metrics").get_data(as_text=True)
    for edge in ("0.05", "0.1", "0.2", "0.5"):
        assert f'marketplace_search_duration_seconds_bucket{{le="{edge}"}} ' in text


# --- latency in seconds ---------------------------------------------------------------------


def test_injected_search_latency_shows_in_the_sum_in_seconds(client, auth):
    inject(client, auth, search_latency_ms=150)
    assert client.get("/api/v1/search?q=web").status_code == 200
    samples = exposition(client)
    total = value(samples, "marketplace_search_duration_seconds_sum")
    assert 0.150 <= total <= 0.150 + SLACK_S
    assert value(samples, "marketplace_search_duration_seconds_count") == 1
    assert value(samples, "marketplace_search_duration_seconds_bucket", le="0.1") == 0
    assert value(samples, "marketplace_search_duration_seconds_bucket", le="+Inf") == 1
    route = {"method": "GET", "route": "/api/v1/search"}
    http_sum = value(samples, "marketplace_http_request_duration_seconds_sum", **route)
    assert total <= http_sum <= 0.150 + SLACK_S  # the request wraps the search


def test_two_known_delays_add_up_in_the_sum(client, auth):
    inject(client, auth, search_latency_ms=60)
    client.get("/api/v1/search?q=web")
    inject(client, auth, search_latency_ms=90)
    client.get("/api/v1/search?q=http")
    samples = exposition(client)
    total = value(samples, "marketplace_search_duration_seconds_sum")
    assert 0.150 <= total <= 0.150 + SLACK_S
    assert value(samples, "marketplace_search_duration_seconds_bucket", le="0.05") == 0
    assert value(samples, "marketplace_search_duration_seconds_count") == 2


def test_injected_lookup_and_rdf_latency_show_in_seconds(client, auth):
    inject(client, auth, lookup_latency_ms=80, rdf_latency_ms=120)
    exercise(client)
    samples = exposition(client)
    lookup = value(samples, "marketplace_lookup_duration_seconds_sum")
    assert 0.080 <= lookup <= 0.080 + SLACK_S
    rdf = value(samples, "marketplace_rdf_query_duration_seconds_sum", query="install_closure")
    assert 0.120 <= rdf <= 0.120 + SLACK_S
    install = value(samples, "marketplace_install_duration_seconds_sum")
    assert rdf <= install <= 0.120 + SLACK_S
    assert value(samples, "marketplace_rdf_query_duration_seconds_count", query="search") == 0


def test_v1_sparql_search_latency_shows_per_query_in_seconds(make_app, auth):
    client = make_app(variant="v1").test_client()
    inject(client, auth, rdf_latency_ms=100)
    assert client.get("/api/v1/search?q=web").status_code == 200
    samples = exposition(client)
    rdf = value(samples, "marketplace_rdf_query_duration_seconds_sum", query="search")
    assert 0.100 <= rdf <= 0.100 + SLACK_S
    search = value(samples, "marketplace_search_duration_seconds_sum")
    assert rdf <= search <= 0.100 + SLACK_S


# --- the search log line --------------------------------------------------------------------


def test_cache_hit_is_false_on_a_miss_and_true_on_a_hit(client, log_lines):
    client.get("/api/v1/search?q=web")
    client.get("/api/v1/search?q=web")
    client.get("/api/v1/search?q=http")
    lines = log_lines.messages("Search completed")
    assert [(line["query"], line["cache_hit"]) for line in lines] == [
        ("web", False),
        ("web", True),
        ("http", False),
    ]
    samples = exposition(client)
    assert value(samples, "marketplace_cache_hits_total", cache="search") == 1
    assert value(samples, "marketplace_cache_misses_total", cache="search") == 2


def test_cache_hit_is_false_when_the_cache_is_bypassed_and_on_v1(make_app, auth, log_lines):
    v2 = make_app().test_client()
    v2.get("/api/v1/search?q=web")
    inject(v2, auth, cache_bypass=True)
    v2.get("/api/v1/search?q=web")
    v1 = make_app(variant="v1").test_client()
    v1.get("/api/v1/search?q=web")
    v1.get("/api/v1/search?q=web")
    lines = log_lines.messages("Search completed")
    assert [line["cache_hit"] for line in lines] == [False] * 4


def test_lookup_cache_hit_follows_the_cache(client, log_lines):
    client.get("/api/v1/packages/webframe")
    client.get("/api/v1/packages/webframe")
    lines = log_lines.messages("Lookup completed")
    assert [line["cache_hit"] for line in lines] == [False, True]


def test_duration_ms_is_the_injected_delay_in_milliseconds(client, auth, log_lines):
    inject(client, auth, search_latency_ms=120)
    client.get("/api/v1/search?q=web")
    (line,) = log_lines.messages("Search completed")
    assert 120.0 <= line["duration_ms"] <= 120.0 + SLACK_S * 1000
    samples = exposition(client)
    seconds = value(samples, "marketplace_search_duration_seconds_sum")
    # the log line and the histogram time the same search, in ms to the microsecond
    assert line["duration_ms"] == pytest.approx(round(seconds * 1000, 3), abs=1e-9)
    assert list(line)[-3:] == ["result_count", "duration_ms", "cache_hit"]  # the contract's order


def test_duration_ms_of_a_failed_search_is_its_delay(client, auth, log_lines):
    inject(client, auth, search_latency_ms=70, error_rate=1)
    assert client.get("/api/v1/search?q=web").status_code == 503
    (line,) = log_lines.messages("Search failed")
    assert 70.0 <= line["duration_ms"] <= 70.0 + SLACK_S * 1000


def test_duration_ms_of_lookup_and_install_lines(client, auth, log_lines):
    inject(client, auth, lookup_latency_ms=50, rdf_latency_ms=90)
    exercise(client)
    (lookup,) = log_lines.messages("Lookup completed")
    (install,) = log_lines.messages("Install planned")
    assert 50.0 <= lookup["duration_ms"] <= 50.0 + SLACK_S * 1000
    assert 90.0 <= install["duration_ms"] <= 90.0 + SLACK_S * 1000


def test_duration_ms_of_an_undelayed_search_is_small_but_measured(client, log_lines):
    client.get("/api/v1/search?q=web")
    (line,) = log_lines.messages("Search completed")
    assert 0.0 < line["duration_ms"] < SLACK_S * 1000


@pytest.mark.parametrize("variant", ["v1", "v2"])
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/search?q=web",
        "/api/v1/search?q=web&limit=1",
        "/api/v1/search?q=a&limit=3",
        "/api/v1/search?q=a&limit=100",
        "/api/v1/search?q=zzzznothing",
    ],
)
def test_result_count_equals_the_responses_count(make_app, log_lines, variant, path):
    client = make_app(variant=variant).test_client()
    for _ in range(2):  # a miss, then (v2) a hit
        body = client.get(path).get_json()
        assert body["count"] == len(body["results"])
    lines = log_lines.messages("Search completed")
    assert [line["result_count"] for line in lines] == [body["count"]] * 2


def test_result_counts_differ_between_queries(client, log_lines):
    """A constant result_count would pass the equality above only if every query found the
    same number of packages: these do not."""
    counts = [
        client.get(path).get_json()["count"]
        for path in ("/api/v1/search?q=web&limit=1", "/api/v1/search?q=zzzznothing")
    ]
    assert counts == [1, 0]
    lines = log_lines.messages("Search completed")
    assert [line["result_count"] for line in lines] == counts


def test_install_result_count_equals_the_plan_size(client, log_lines):
    body = client.post("/api/v1/packages/chain-a/install").get_json()
    assert body["count"] == len(body["plan"]) > 1
    (line,) = log_lines.messages("Install planned")
    assert line["result_count"] == body["count"]


def test_an_unknown_http_method_is_counted_as_other(client):
    client.open("/api/v1/search?q=web", method="XFOO")
    client.open("/api/v1/search?q=web", method="XBAR")
    samples = exposition(client)
    other = {"method": "OTHER", "route": "<unmatched>", "code": "405"}
    assert value(samples, "marketplace_http_requests_total", **other) == 2
    methods = {s.labels["method"] for s in samples["marketplace_http_requests_total"]}
    assert methods <= {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "OTHER"}
