"""Traces: Flask server spans plus search, cache and RDF query spans with their attributes."""

import time

import pytest
from marketplace import __version__, tracing
from marketplace.settings import Settings
from opentelemetry.trace import SpanKind, StatusCode

pytestmark = pytest.mark.unit


def spans_named(exporter, name):
    return [s for s in exporter.get_finished_spans() if s.name == name]


def test_search_span_attributes(client, span_exporter):
    client.get("/api/v1/search?q=HTTP&limit=5")
    client.get("/api/v1/search?q=HTTP&limit=5")
    first, second = spans_named(span_exporter, "marketplace.search")
    assert dict(first.attributes) == {
        "marketplace.query": "HTTP",
        "marketplace.limit": 5,
        "marketplace.result_count": 5,
        "marketplace.cache_hit": False,
    }
    assert second.attributes["marketplace.cache_hit"] is True


def test_span_tree_server_search_cache(client, span_exporter):
    client.get("/api/v1/search?q=web")
    (server,) = [s for s in span_exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    (search,) = spans_named(span_exporter, "marketplace.search")
    (cache,) = spans_named(span_exporter, "marketplace.cache.get")
    assert search.parent.span_id == server.context.span_id
    assert cache.parent.span_id == search.context.span_id
    assert cache.attributes["marketplace.cache"] == "search"
    assert cache.attributes["marketplace.cache_hit"] is False
    assert server.attributes.get("http.route") == "/api/v1/search"


def test_each_rdf_query_has_a_span(make_app, span_exporter):
    client = make_app(variant="v1").test_client()
    client.get("/api/v1/search?q=web")
    client.get("/api/v1/packages/webframe")
    names = [
        s.attributes["marketplace.rdf.query"]
        for s in spans_named(span_exporter, "marketplace.rdf.query")
    ]
    assert names == ["search", "lookup", "lookup_keywords", "lookup_dependencies"]
    (search,) = spans_named(span_exporter, "marketplace.search")
    assert search.attributes["marketplace.cache_hit"] is False


def test_install_uses_one_closure_query(client, span_exporter):
    client.post("/api/v1/packages/webframe/install")
    (rdf,) = spans_named(span_exporter, "marketplace.rdf.query")
    (install,) = spans_named(span_exporter, "marketplace.install")
    assert rdf.attributes["marketplace.rdf.query"] == "install_closure"
    assert rdf.parent.span_id == install.context.span_id


def test_probes_and_metrics_are_not_traced(client, span_exporter):
    for path in ("/healthz", "/readyz", "/metrics"):
        assert client.get(path).status_code == 200
    assert span_exporter.get_finished_spans() == ()


def test_resource_attributes(client, span_exporter):
    client.get("/api/v1/search?q=web")
    resource = span_exporter.get_finished_spans()[0].resource.attributes
    assert resource["service.name"] == "marketplace"
    assert resource["service.version"] == __version__
    assert resource["marketplace.variant"] == "v2"
    assert resource["deployment.environment"] == "local"


def test_service_name_from_otel_service_name(settings):
    parsed = Settings.from_env(
        {"OTEL_SERVICE_NAME": "shop-search", "MARKETPLACE_ENVIRONMENT": "prod"}
    )
    provider = tracing.build_tracer_provider(parsed, "1.2.3")
    assert provider.resource.attributes["service.name"] == "shop-search"
    assert provider.resource.attributes["deployment.environment"] == "prod"


def test_no_otel_variables_means_no_exporter():
    parsed = Settings.from_env({})
    assert parsed.traces_exporters == ()
    provider = tracing.build_tracer_provider(parsed, "1")
    assert provider._active_span_processor._span_processors == ()


def test_exporter_chosen_by_standard_variables():
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http

    def exporters(env):
        provider = tracing.build_tracer_provider(Settings.from_env(env), "1")
        try:
            return [type(p.span_exporter) for p in provider._active_span_processor._span_processors]
        finally:
            provider.shutdown()

    endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}
    assert exporters(endpoint) == [Grpc]
    assert exporters({**endpoint, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"}) == [Http]
    assert exporters({**endpoint, "OTEL_TRACES_EXPORTER": "none"}) == []
    assert (
        tracing.build_tracer_provider(Settings.from_env({"OTEL_SDK_DISABLED": "true"}), "1") is None
    )


def test_sdk_disabled_serves_without_spans(make_app, span_exporter):
    client = make_app(otel_sdk_disabled=True).test_client()
    assert client.get("/api/v1/search?q=web").status_code == 200
    assert span_exporter.get_finished_spans() == ()


def test_unmatched_paths_share_one_span_name(client, span_exporter):
    for path in ("/wp-login.php", "/a/b/c", "/api/v1/nope"):
        assert client.get(path).status_code == 404
    client.get("/api/v1/packages/webframe")
    names = sorted(s.name for s in span_exporter.get_finished_spans() if s.kind == SpanKind.SERVER)
    assert names == ["GET /api/v1/packages/<package_id>", *["GET <unmatched>"] * 3]


# --- the server span ---------------------------------------------------------------------

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


def server_spans(exporter):
    return [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]


def test_server_span_semantic_convention_attributes(client, span_exporter):
    client.get("/api/v1/search?q=web&limit=3")
    (span,) = server_spans(span_exporter)
    assert span.name == "GET /api/v1/search"
    attributes = dict(span.attributes)
    assert attributes["http.method"] == "GET"
    assert attributes["http.route"] == "/api/v1/search"
    assert attributes["http.target"] == "/api/v1/search?q=web&limit=3"
    assert attributes["http.status_code"] == 200
    assert span.status.status_code == StatusCode.UNSET
    assert span.start_time <= span.end_time


def test_server_span_continues_the_callers_trace(client, span_exporter):
    client.get(
        "/api/v1/packages/webframe", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"}
    )
    (span,) = server_spans(span_exporter)
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert format(span.parent.span_id, "016x") == PARENT_ID and span.parent.is_remote
    (lookup,) = spans_named(span_exporter, "marketplace.lookup")
    assert lookup.context.trace_id == span.context.trace_id


def test_a_new_trace_without_traceparent_and_probes_untraced(client, span_exporter):
    client.get("/api/v1/search?q=web")
    client.get("/api/v1/search?q=web")
    first, second = server_spans(span_exporter)
    assert first.parent is None and first.context.trace_id != second.context.trace_id


def test_client_errors_leave_the_status_unset(client, span_exporter):
    client.get("/api/v1/search?q=")
    client.get("/api/v1/packages/nope")
    bad, missing = server_spans(span_exporter)
    assert bad.attributes["http.status_code"] == 400
    assert missing.attributes["http.status_code"] == 404
    assert missing.attributes["http.route"] == "/api/v1/packages/<package_id>"
    assert {bad.status.status_code, missing.status.status_code} == {StatusCode.UNSET}


def test_exception_is_recorded_and_5xx_is_an_error(app, client, span_exporter, monkeypatch):
    def explode(*args):
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(app.extensions["marketplace"].store, "search", explode)
    assert client.get("/api/v1/search?q=web").status_code == 500
    (server,) = server_spans(span_exporter)
    assert server.status.status_code == StatusCode.ERROR
    assert server.attributes["http.status_code"] == 500
    (search,) = spans_named(span_exporter, "marketplace.search")
    assert search.status.status_code == StatusCode.ERROR
    assert search.attributes["marketplace.error_type"] == "internal"
    assert search.events[0].attributes["exception.type"] == "ZeroDivisionError"


def test_injected_503_is_an_error(client, span_exporter, auth):
    client.put("/admin/faults", headers=auth, json={"error_rate": 1})
    span_exporter.clear()
    assert client.get("/api/v1/search?q=web").status_code == 503
    (server,) = server_spans(span_exporter)
    assert server.status.status_code == StatusCode.ERROR
    assert server.attributes["http.status_code"] == 503


def test_an_unknown_method_names_no_span(client, span_exporter):
    assert client.open("/api/v1/search?q=web", method="BREW").status_code == 405
    assert client.open("/nope", method="BREW").status_code == 404
    names = {span.name for span in server_spans(span_exporter)}
    assert names == {"HTTP <unmatched>"}


def test_a_cache_hit_is_an_attribute_of_the_operation_not_a_span_of_its_own(client, span_exporter):
    client.get("/api/v1/search?q=web")  # a miss: its span
    client.get("/api/v1/search?q=web")  # a hit: no span, the search span says so
    client.get("/api/v1/packages/webframe")
    client.get("/api/v1/packages/webframe")
    misses = spans_named(span_exporter, "marketplace.cache.get")
    assert [
        (s.attributes["marketplace.cache"], s.attributes["marketplace.cache_hit"]) for s in misses
    ] == [
        ("search", False),
        ("lookup", False),
    ]
    searches = spans_named(span_exporter, "marketplace.search")
    lookups = spans_named(span_exporter, "marketplace.lookup")
    assert [s.attributes["marketplace.cache_hit"] for s in searches + lookups] == [
        False,
        True,
        False,
        True,
    ]
    (miss,) = [s for s in misses if s.attributes["marketplace.cache"] == "search"]
    assert miss.parent.span_id == searches[0].context.span_id


def test_cache_span_covers_the_access(client, span_exporter):
    client.get("/api/v1/search?q=web")
    (cache,) = spans_named(span_exporter, "marketplace.cache.get")
    (search,) = spans_named(span_exporter, "marketplace.search")
    assert search.start_time <= cache.start_time <= cache.end_time <= search.end_time


def test_a_search_for_metrics_is_traced(client, span_exporter):
    # Probes are excluded by their path, not by the word anywhere in the URL.
    client.get("/api/v1/search?q=metrics")
    client.get("/api/v1/search?q=healthz")
    client.get("/metrics")
    client.get("/readyz?verbose=1")
    assert [s.attributes["http.target"] for s in server_spans(span_exporter)] == [
        "/api/v1/search?q=metrics",
        "/api/v1/search?q=healthz",
    ]


def test_a_miss_span_covers_the_whole_cache_access(app, span_exporter):
    cache = app.extensions["marketplace"].store.search_cache
    cache.put("key", "stale")

    def rejected(value):  # the entry is there but unusable: a miss, found 20 ms into the access
        time.sleep(0.02)
        return False

    started = time.time_ns()
    assert cache.get("key", usable=rejected) != "stale"
    (miss,) = spans_named(span_exporter, "marketplace.cache.get")
    assert started <= miss.start_time and miss.end_time - miss.start_time >= 20_000_000


def test_a_failed_sparql_query_names_the_query_in_the_operation_span(
    make_app, span_exporter, monkeypatch
):
    app = make_app(variant="v1")

    def broken(*args, **kwargs):
        raise ValueError("parser state")

    monkeypatch.setattr(app.extensions["marketplace"].store.graph, "query", broken)
    assert app.test_client().get("/api/v1/search?q=web").status_code == 500
    (search,) = spans_named(span_exporter, "marketplace.search")
    assert search.status.status_code == StatusCode.ERROR
    assert search.status.description == "RdfQueryError: search"
    assert search.attributes["marketplace.error_type"] == "rdf_query"
