"""Metrics: values, bounded cardinality, promtool's lint, and exemplars in OpenMetrics."""

import re
import subprocess

import pytest
from marketplace.metrics import BUCKETS
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import require_binary

pytestmark = pytest.mark.unit

CONTRACT = {
    "marketplace_search": "counter",
    "marketplace_search_errors": "counter",
    "marketplace_cache_hits": "counter",
    "marketplace_cache_misses": "counter",
    "marketplace_search_duration_seconds": "histogram",
    "marketplace_lookup_duration_seconds": "histogram",
    "marketplace_install_duration_seconds": "histogram",
    "marketplace_rdf_query_duration_seconds": "histogram",
    "marketplace_cache_entries": "gauge",
    "marketplace_searches_in_progress": "gauge",
    "marketplace_http_requests": "counter",
    "marketplace_http_request_duration_seconds": "histogram",
    "marketplace_build": "info",
}


def families(registry):
    return {m.name: m for m in registry.collect()}


def series_count(registry) -> int:
    return sum(len(m.samples) for m in registry.collect())


def test_every_contract_metric_exists_with_its_type(registry):
    found = families(registry)
    for name, kind in CONTRACT.items():
        assert found[name].type == kind, name
    assert {"process_cpu_seconds", "python_info", "python_gc_objects_collected"} <= set(found)
    assert {0.05, 0.1, 0.2, 0.5} <= set(BUCKETS)


def test_build_info_has_version_and_variant(registry):
    from marketplace import __version__

    labels = {"app_version": __version__, "variant": "v2"}
    assert registry.get_sample_value("marketplace_build_info", labels) == 1.0


def test_search_counts_cache_and_latency(client, registry):
    def value(name, labels=None):
        return registry.get_sample_value(name, labels or {}) or 0.0

    client.get("/api/v1/search?q=http")
    client.get("/api/v1/search?q=http")
    client.get("/api/v1/search?q=web")
    client.get("/api/v1/search?q=")  # a 400: not a search
    assert value("marketplace_search_total") == 3
    assert value("marketplace_cache_hits_total", {"cache": "search"}) == 1
    assert value("marketplace_cache_misses_total", {"cache": "search"}) == 2
    assert value("marketplace_search_duration_seconds_count") == 3
    assert value("marketplace_cache_entries", {"cache": "search"}) == 2
    assert value("marketplace_searches_in_progress") == 0
    labels = {"method": "GET", "route": "/api/v1/search", "code": "200"}
    assert value("marketplace_http_requests_total", labels) == 3
    assert value("marketplace_http_requests_total", {**labels, "code": "400"}) == 1
    assert (
        value(
            "marketplace_http_request_duration_seconds_count",
            {"method": "GET", "route": "/api/v1/search"},
        )
        == 4
    )
    for error_type in ("injected", "rdf_query", "internal"):
        assert value("marketplace_search_errors_total", {"error_type": error_type}) == 0


def test_lookup_install_and_rdf_queries(client, registry):
    client.get("/api/v1/packages/webframe")
    client.get("/api/v1/packages/webframe")
    client.post("/api/v1/packages/webframe/install")
    get = registry.get_sample_value
    assert get("marketplace_lookup_duration_seconds_count") == 2
    assert get("marketplace_cache_hits_total", {"cache": "lookup"}) == 1
    assert get("marketplace_install_duration_seconds_count") == 1
    assert get("marketplace_rdf_query_duration_seconds_count", {"query": "install_closure"}) == 1
    # v2 serves search and lookup from its index: no SPARQL for them.
    assert get("marketplace_rdf_query_duration_seconds_count", {"query": "search"}) == 0


def test_v1_runs_sparql_per_search_and_has_no_cache(make_app):
    app = make_app(variant="v1")
    client, registry = app.test_client(), app.extensions["marketplace"].metrics.registry
    client.get("/api/v1/search?q=http")
    client.get("/api/v1/search?q=http")
    client.get("/api/v1/packages/webframe")
    get = registry.get_sample_value
    assert get("marketplace_rdf_query_duration_seconds_count", {"query": "search"}) == 2
    assert get("marketplace_rdf_query_duration_seconds_count", {"query": "lookup"}) == 1
    assert get("marketplace_cache_hits_total", {"cache": "search"}) == 0
    assert get("marketplace_cache_misses_total", {"cache": "search"}) == 0


def test_route_label_is_the_url_rule_not_the_path(client, registry):
    client.get("/api/v1/packages/webframe")
    client.get("/api/v1/packages/nope")
    client.get("/no/such/path")
    get = registry.get_sample_value
    rule = "/api/v1/packages/<package_id>"
    assert (
        get("marketplace_http_requests_total", {"method": "GET", "route": rule, "code": "200"}) == 1
    )
    assert (
        get("marketplace_http_requests_total", {"method": "GET", "route": rule, "code": "404"}) == 1
    )
    unmatched = {"method": "GET", "route": "<unmatched>", "code": "404"}
    assert get("marketplace_http_requests_total", unmatched) == 1


def test_series_do_not_grow_with_distinct_queries_or_ids(client, registry):
    def exercise(tag: str, n: int):
        for i in range(n):
            client.get(f"/api/v1/search?q={tag}{i}")
            client.get(f"/api/v1/packages/{tag}{i}")
            client.post(f"/api/v1/packages/{tag}{i}/install")
            client.get(f"/{tag}/{i}")
            client.open(f"/api/v1/search?q={tag}", method=f"X{tag.upper()}{i}")

    exercise("warm", 2)  # every label combination these requests can produce now exists
    before = series_count(registry)
    exercise("many", 60)
    assert series_count(registry) == before


def test_promtool_check_metrics_is_silent(client):
    promtool = require_binary("promtool")
    client.get("/api/v1/search?q=http")
    client.get("/api/v1/packages/webframe")
    client.post("/api/v1/packages/webframe/install")
    text = client.get("/metrics").get_data()
    result = subprocess.run(
        [promtool, "check", "metrics"], input=text, capture_output=True, timeout=30, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout == b"" and result.stderr == b""


def test_plain_text_by_default_parses(client):
    response = client.get("/metrics")
    assert response.headers["Content-Type"].startswith("text/plain")
    names = {f.name for f in text_string_to_metric_families(response.get_data(as_text=True))}
    assert "marketplace_search_duration_seconds" in names
    assert "# {" not in response.get_data(as_text=True)  # no exemplars outside OpenMetrics


def test_exemplars_carry_the_trace_id_in_openmetrics(client, span_exporter):
    client.get("/api/v1/search?q=http")
    trace_ids = {format(s.context.trace_id, "032x") for s in span_exporter.get_finished_spans()}
    response = client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    text = response.get_data(as_text=True)
    assert text.rstrip().endswith("# EOF")
    found = {}
    for line in text.splitlines():
        match = re.match(r'^(\w+)_bucket\{.*\} \S+ # \{trace_id="([0-9a-f]{32})"\} ', line)
        if match:
            found.setdefault(match.group(1), set()).add(match.group(2))
    for name in (
        "marketplace_search_duration_seconds",
        "marketplace_http_request_duration_seconds",
    ):
        assert found.get(name), f"no exemplar on {name}"
        assert found[name] <= trace_ids


def test_no_exemplar_without_a_span(make_app):
    app = make_app(otel_sdk_disabled=True)
    client = app.test_client()
    client.get("/api/v1/search?q=http")
    text = client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    ).get_data(as_text=True)
    assert "trace_id" not in text
    registry = app.extensions["marketplace"].metrics.registry
    assert registry.get_sample_value("marketplace_search_total") == 1


def test_a_failing_sparql_query_counts_as_rdf_query_error(make_app, monkeypatch):
    app = make_app(variant="v1")
    client, registry = app.test_client(), app.extensions["marketplace"].metrics.registry
    graph = app.extensions["marketplace"].store.graph

    def broken(*args, **kwargs):
        raise ValueError("parser state: secret internals")

    monkeypatch.setattr(graph, "query", broken)
    response = client.get("/api/v1/search?q=web")
    assert response.status_code == 500
    assert "secret" not in response.get_data(as_text=True)
    get = registry.get_sample_value
    assert get("marketplace_search_errors_total", {"error_type": "rdf_query"}) == 1
    assert get("marketplace_search_errors_total", {"error_type": "internal"}) == 0
    assert get("marketplace_search_total") == 1
    assert get("marketplace_search_duration_seconds_count") == 1


@pytest.mark.parametrize(
    "accept",
    [
        # Prometheus 2.42 and 3.x scrape Accept headers
        "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
        "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1",
        "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
        "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=1.0.0;"
        "escaping=allow-utf-8;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.2",
    ],
)
def test_prometheus_scrapes_get_openmetrics(client, accept):
    client.get("/api/v1/search?q=http")
    response = client.get("/metrics", headers={"Accept": accept})
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    text = response.get_data(as_text=True)
    assert '# {trace_id="' in text and text.endswith("# EOF\n")


def test_a_query_shares_one_cache_entry_across_limits(client, registry):
    def search(limit):
        return client.get(f"/api/v1/search?q=chain&limit={limit}").get_json()["results"]

    def hits():
        return registry.get_sample_value("marketplace_cache_hits_total", {"cache": "search"})

    two = search(2)  # computes the top 2: more matches exist, so the entry is a prefix
    wide = search(100)  # more than the entry holds: a miss, recomputed
    assert hits() == 0 and len(wide) > 2 and two == wide[:2]
    assert search(1) == wide[:1] and hits() == 1  # a prefix of the longer entry
    assert search(50) == wide and hits() == 2  # the entry holds every match: complete
    assert registry.get_sample_value("marketplace_cache_entries", {"cache": "search"}) == 1
