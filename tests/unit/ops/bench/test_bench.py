"""ops.bench's pure parts: the bare app's body, the wrk script, the figures and the table."""

import pytest

from ops.bench.bare import create_app as create_bare_app

pytestmark = pytest.mark.unit


def test_the_bare_body_has_the_requested_size_and_is_json():
    import json

    from ops.bench.bare import make_body

    for size in (200, 1500, 4096):
        body = make_body(size)
        assert len(body) == size and json.loads(body)["results"] == []
    answer = create_bare_app({"BODY_BYTES": 900}).test_client().get("/api/v1/search?q=x")
    assert answer.status_code == 200 and len(answer.data) == 900


def test_the_wrk_script_rotates_over_every_path(tmp_path):
    from ops.bench.wrk import write_path_set

    paths = ["/api/v1/search?q=a%20b", '/odd"quote', "/api/v1/packages/x"]
    path_set = write_path_set("search", paths, tmp_path)
    lua = path_set.lua.read_text()
    assert '"/api/v1/search?q=a%20b"' in lua and '"/odd\\"quote"' in lua
    assert "function request()" in lua and "function done(" in lua
    assert path_set.plain.read_text().splitlines() == paths


def test_the_load_figures_are_read_from_the_json_line():
    from ops.bench.wrk import MARKER, parse_output

    line = (
        '{"requests":2000,"duration_us":10000000,"bytes":3000000,"connect_errors":0,'
        '"read_errors":1,"write_errors":0,"non_2xx":3,"timeouts":2,"p50_us":1500,'
        '"p90_us":2500,"p99_us":4800,"mean_us":1700.5,"max_us":9000}'
    )
    result = parse_output("Running 10s test\n" + MARKER + line + "\n")
    assert result.rps == 200 and result.p99_ms == 4.8 and result.p50_ms == 1.5
    assert result.non_2xx == 3 and result.socket_errors == 3
    assert result.bytes_per_response == 1500
    with pytest.raises(RuntimeError):
        parse_output("no figures here")


def _run(rps, cpu_ms, p99=1.0, lookup_p99=None, settles=None):
    results = {
        "search_c16": {"rps": rps, "cpu_ms_per_request": cpu_ms, "settle_seconds_rounds": settles},
        "search_c1": {"p50_ms": 0.5, "p99_ms": p99},
    }
    if lookup_p99 is not None:
        results["lookup_c1"] = {"p50_ms": 0.5, "p99_ms": lookup_p99}
    return {"results": results, "ready_seconds": 9.0, "memory": {"rss_mb": 320.0}}


BENCH_DATA = {
    "runs": {
        "shipped": {
            **_run(1000, 0.5, 2.5, 2.5, settles=[0.25, 1.5, 0.5]),
            "spans_per_request": 2.1,
            "spans_delivered": 1.0,
        },
        "stock": _run(400, 1.2),
        "signal_metrics": _run(2000, 0.4),
        "signal_server_span": _run(1500, 0.44),
        "signal_internal_spans": _run(1400, 0.45),
        "signal_logs_stdout": _run(1300, 0.48),
        "signal_logs_file": _run(1350, 0.47),
    }
}


def test_the_targets_table_marks_each_target_met_or_missed():
    from ops.bench.table import build_table, render

    rows = {r.measure: r for r in build_table(BENCH_DATA)}
    assert rows["shipped / stock, throughput"].value == 2.5
    assert rows["shipped / stock, throughput"].passed is True
    assert rows["instrumentation overhead (CPU vs metrics)"].value == 25
    assert rows["instrumentation overhead (CPU vs metrics)"].passed is True
    assert rows["v2 search p99, 1 connection, shipped"].passed is True
    assert rows["v2 lookup p99, 1 connection, shipped"].passed is False
    assert rows["v2 start-up to ready (/readyz)"].passed is True
    assert rows["v2 RSS at 10,000 packages (worker)"].passed is False
    assert rows["spans received per request, shipped"].value == 2.1
    assert rows["spans received / spans made, shipped"].value == 1
    assert rows["shipped idle after a 16-conn load, at most"].value == 1.5
    assert rows["bare Flask ceiling, granian"].value is None  # a run that did not happen
    text = render(list(rows.values()))
    assert text.count("✓") == 4 and text.count("✗") == 2


def test_the_spans_made_are_counted_from_the_servers_own_counters():
    from ops.bench.phase import spans_made

    # 10 searches (3 missed the cache), 4 lookups (1 missed), 2 index pages, scrapes not traced
    text = "\n".join(
        [
            'marketplace_http_requests_total{code="200",method="GET",route="/api/v1/search"} 10.0',
            'marketplace_http_requests_total{code="200",route="/api/v1/packages/<package_id>"} 4.0',
            'marketplace_http_requests_total{code="200",method="GET",route="/"} 2.0',
            'marketplace_http_requests_total{code="200",method="GET",route="/metrics"} 7.0',
            'marketplace_cache_misses_total{cache="search"} 3.0',
            'marketplace_cache_misses_total{cache="lookup"} 1.0',
            'marketplace_cache_hits_total{cache="search"} 7.0',
        ]
    )
    # server spans 16, operation spans 14, miss spans 4
    assert spans_made(text) == 34


def test_the_search_cache_and_the_dropped_spans_are_read_from_an_exposition():
    from ops.bench.phase import cache_counts, spans_dropped

    text = "\n".join(
        [
            "# TYPE marketplace_cache_hits counter",
            'marketplace_cache_hits_total{cache="search",version="v2"} 90.0',
            'marketplace_cache_hits_total{cache="lookup",version="v2"} 5.0',
            "# TYPE marketplace_cache_misses counter",
            'marketplace_cache_misses_total{cache="search",version="v2"} 10.0',
            "# TYPE marketplace_tracing_spans_dropped counter",
            "marketplace_tracing_spans_dropped_total 3.0",
            "marketplace_tracing_spans_dropped_created 1.7e9",
        ]
    )
    assert cache_counts(text) == (90.0, 10.0)
    assert spans_dropped(text) == 3.0
    assert spans_dropped("marketplace_cache_hits_total 1.0") is None


def test_the_signal_table_adds_one_signal_per_row():
    from ops.bench.table import build_signal_table, render_signals

    rows = {r.configuration.split(" (")[0]: r for r in build_signal_table(BENCH_DATA)}
    assert rows["metrics only"].cpu_us == 400 and rows["metrics only"].cost_us is None
    assert rows["+ server span"].cost_us == 40 and rows["+ server span"].cost_pct == 10
    assert rows["+ internal spans"].cost_us == 10
    # each destination priced against the same row, not against each other
    assert rows["+ logs, stdout"].cost_us == 30 and rows["+ logs, file"].cost_us == 20
    assert rows["+ OTLP export to a live sink = shipped"].cost_us == 30
    assert rows["total instrumentation"].cost_us == 100
    assert rows["total instrumentation"].cost_pct == 25
    assert "+25.0 %" in render_signals(list(rows.values()))


def test_the_shipped_profile_is_what_compose_runs(tmp_path):
    from ops.bench.profiles import compose_environment, profiles

    compose = compose_environment()
    assert compose["OTEL_EXPORTER_OTLP_PROTOCOL"] in ("grpc", "http/protobuf")
    assert "OTEL_BSP_MAX_EXPORT_BATCH_SIZE" in compose
    assert not any("${" in value for value in compose.values())
    assert "OTEL_EXPORTER_OTLP_ENDPOINT" not in compose and "MARKETPLACE_PORT" not in compose
    found = profiles(compose)
    shipped, stock = found["shipped"], found["stock"]
    assert shipped.log_file and shipped.export and shipped.env.items() >= compose.items()
    assert stock.env["MARKETPLACE_INSTRUMENTATION"] == "stock"
    assert stock.env["MARKETPLACE_SERVER"] == "gunicorn" and stock.log_file and stock.export
    assert found["signal_metrics"].env["OTEL_SDK_DISABLED"] == "true"
    assert not any(k.startswith("OTEL_BSP_") for k in found["export_sdk_defaults"].env)
    literal = tmp_path / "compose.yaml"
    literal.write_text(
        "services:\n  marketplace-v2:\n    environment:\n      OTEL_BSP_SCHEDULE_DELAY: 500\n"
        "      MARKETPLACE_PORT: ${MARKETPLACE_PORT}\n      OTHER: x\n"
    )
    assert compose_environment(literal) == {"OTEL_BSP_SCHEDULE_DELAY": "500"}


def test_the_sink_counts_the_spans_it_is_sent(tmp_path):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    from ops.bench.sink import Counts

    request = ExportTraceServiceRequest()
    scope = request.resource_spans.add().scope_spans.add()
    scope.spans.add()
    scope.spans.add()
    counts = Counts()
    counts.add(request)
    counts.add(ExportTraceServiceRequest.FromString(request.SerializeToString()))
    assert counts.line() == 'SINK {"requests": 2, "spans": 4}'


def test_the_cpu_of_a_load_is_counted_until_the_server_is_idle_again(tmp_path):
    from ops.bench.server import Server

    server = Server("x", [], {"BENCH_PORT": "1"}, tmp_path)
    readings = iter([0.0, 0.01, 0.01, 0.02, 0.02, 0.0205, 9.0])  # busy, busy, then idle
    server.cpu_seconds = lambda: next(readings)
    waited = server.wait_idle(window=0.01, busy_share=0.1)
    assert next(readings) == 9.0, "it read the CPU past the first idle window"
    assert 0.03 <= waited < 1.0

    clock = iter(range(1000))
    server.cpu_seconds = lambda: next(clock)  # a core's worth each window: never idle
    waited = server.wait_idle(window=0.01, busy_share=0.1, limit=0.05)
    assert next(clock) == 10, "five windows, then it gave up"
