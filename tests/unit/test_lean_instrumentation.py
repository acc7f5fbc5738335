"""The lean instrumentation (issue 10): the same server span as the Flask instrumentor, trace ids
only for sampled spans, logs formatted once and written by one thread with nothing lost at exit,
one destination per deployment, and the span queue's drops counted and said once."""

import dataclasses
import io
import json
import logging
import threading

import pytest
from marketplace import lifecycle, logs, tracing
from opentelemetry.sdk.trace.export import SpanExportResult
from opentelemetry.trace import SpanKind

pytestmark = pytest.mark.unit

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture
def captured(log_stream):
    """JSON log lines from the root logger while the test runs (synchronous handler)."""
    stream = log_stream
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]


def server_span(exporter):
    (span,) = [s for s in exporter.get_finished_spans() if s.kind == SpanKind.SERVER]
    return span


# --- the server span: the WSGI middleware against the Flask instrumentor ------------------


@pytest.mark.parametrize(
    "path, method",
    [
        ("/api/v1/search?q=web&limit=3", "GET"),
        ("/api/v1/packages/webframe", "GET"),
        ("/api/v1/packages/nope", "GET"),
        ("/api/v1/search?q=", "GET"),
        ("/wp-login.php", "GET"),
        ("/api/v1/search?q=web", "BREW"),
        ("/api/v1/packages/webframe/install", "POST"),
    ],
)
def test_the_middleware_span_equals_the_flask_instrumentors(make_app, span_exporter, path, method):
    found = {}
    for instrumentation in ("stock", "lean"):
        span_exporter.clear()
        client = make_app(instrumentation=instrumentation).test_client()
        client.open(path, method=method, headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
        span = server_span(span_exporter)
        found[instrumentation] = (
            span.name,
            span.kind,
            span.status.status_code,
            format(span.context.trace_id, "032x"),
            format(span.parent.span_id, "016x"),
            {k: v for k, v in span.attributes.items() if k != "net.peer.port"},
        )
    assert found["lean"] == found["stock"]
    assert found["lean"][3] == TRACE_ID and found["lean"][4] == PARENT_ID


def test_without_internal_spans_the_log_line_carries_the_server_span(
    make_app, span_exporter, captured
):
    make_app(internal_spans=False).test_client().get("/api/v1/search?q=http")
    (span,) = span_exporter.get_finished_spans()
    assert span.kind == SpanKind.SERVER
    (line,) = [r for r in captured() if r["message"] == "Search completed"]
    assert line["span_id"] == format(span.context.span_id, "016x")


# --- trace ids only for sampled spans ------------------------------------------------------


def test_an_unsampled_request_logs_no_trace_id_and_leaves_no_exemplar(client, captured):
    # parent-based sampling: a caller that did not sample decides for us
    client.get("/api/v1/search?q=http", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-00"})
    client.get("/api/v1/search?q=web", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"})
    unsampled, sampled = [r for r in captured() if r["message"] == "Search completed"]
    assert "trace_id" not in unsampled and "span_id" not in unsampled
    assert sampled["trace_id"] == TRACE_ID
    text = client.get(
        "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    ).get_data(as_text=True)
    exemplars = [line for line in text.splitlines() if "search_duration" in line and " # {" in line]
    assert len(exemplars) == 1 and TRACE_ID in exemplars[0]


def test_current_ids_are_none_for_an_unsampled_span():
    from opentelemetry import trace
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    ctx = SpanContext(int(TRACE_ID, 16), int(PARENT_ID, 16), False, TraceFlags(0))
    with trace.use_span(NonRecordingSpan(ctx)):
        assert tracing.current_ids() is None and tracing.current_trace_id() is None
    sampled = SpanContext(int(TRACE_ID, 16), int(PARENT_ID, 16), False, TraceFlags(1))
    with trace.use_span(NonRecordingSpan(sampled)):
        assert tracing.current_ids() == (TRACE_ID, PARENT_ID)


# --- the span queue: bounded, its drops counted and said once --------------------------------


class BlockedExporter:
    """An exporter whose endpoint never answers: every export waits until released."""

    def __init__(self):
        self.release = threading.Event()

    def export(self, spans):
        self.release.wait(10)
        return SpanExportResult.FAILURE

    def shutdown(self):
        self.release.set()

    def force_flush(self, timeout_millis=None):
        return True


def test_a_full_span_queue_drops_counts_and_says_it_once(make_app, monkeypatch, captured):
    monkeypatch.setenv("OTEL_BSP_MAX_QUEUE_SIZE", "4")
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "2")
    exporter = BlockedExporter()
    monkeypatch.setattr(tracing, "_exporter", lambda name, settings: exporter)
    app = make_app(traces_exporters=("otlp",))
    client = app.test_client()
    try:
        statuses = [client.get(f"/api/v1/search?q=web{i}").status_code for i in range(10)]
        registry = app.extensions["marketplace"].metrics.registry
        dropped = registry.get_sample_value("marketplace_tracing_spans_dropped_total")
    finally:
        exporter.release.set()
        app.extensions["marketplace.tracer_provider"].shutdown()
    assert statuses == [200] * 10
    # 30 spans (server, search, cache per request): the queue holds 4, one batch of 2 is stuck
    assert 30 - 4 - 2 <= dropped <= 30 - 4
    records = captured()
    said = [r for r in records if r.get("event") == "spans_dropped"]
    assert len(said) == 1 and said[0]["level"] == "WARNING"
    assert said[0]["metric"] == "marketplace_tracing_spans_dropped_total"
    assert not [r for r in records if r["message"].startswith("Queue full")]


def test_the_drop_counter_starts_at_zero(registry):
    assert registry.get_sample_value("marketplace_tracing_spans_dropped_total") == 0


# --- logs: formatted once, one writer, one destination, nothing lost -----------------------


def test_every_queued_line_is_written_at_stop(settings, tmp_path, root_restored):
    path = tmp_path / "service.log"
    logs.configure(dataclasses.replace(settings, log_file=path), background=True)
    # one handler on the root: the queue; the file is the writer thread's
    ours = [h for h in root_restored.handlers if getattr(h, "_marketplace_handler", False)]
    assert [type(h) for h in ours] == [logs.LineQueueHandler]
    logger = logging.getLogger("marketplace.test.queue")
    for n in range(5000):
        logger.info("line", extra={"n": n})
    logs.stop()
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert [line["n"] for line in lines] == list(range(5000))
    assert lines[0]["service"] == "marketplace" and lines[0]["logger"] == "marketplace.test.queue"


def _queue_handler(root) -> logs.LineQueueHandler:
    (queued,) = [h for h in root.handlers if isinstance(h, logs.LineQueueHandler)]
    return queued


def test_a_request_thread_formats_its_line_while_another_holds_the_handler_lock(
    settings, tmp_path, root_restored
):
    path = tmp_path / "service.log"
    logs.configure(dataclasses.replace(settings, log_file=path), background=True)
    queued = _queue_handler(root_restored)
    logger = logging.getLogger("marketplace.test.lockless")
    writer = threading.Thread(target=logger.warning, args=("not queued behind the lock",))
    queued.acquire()  # what a thread preempted mid-format used to hold
    try:
        writer.start()
        writer.join(timeout=2)
        assert not writer.is_alive()
    finally:
        queued.release()
        writer.join(timeout=2)
    logs.stop()
    assert json.loads(path.read_text(encoding="utf-8"))["message"] == "not queued behind the lock"


def test_lines_from_many_threads_arrive_whole_and_a_filter_still_drops(
    settings, tmp_path, root_restored
):
    path = tmp_path / "service.log"
    logs.configure(dataclasses.replace(settings, log_file=path), background=True)
    _queue_handler(root_restored).addFilter(lambda record: record.msg != "dropped")
    logger = logging.getLogger("marketplace.test.threads")

    def write(t: int) -> None:
        for n in range(500):
            logger.info("dropped" if n % 100 == 0 else "kept", extra={"t": t, "n": n})

    threads = [threading.Thread(target=write, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    logs.stop()
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert {line["message"] for line in lines} == {"kept"}
    for t in range(8):  # each thread's lines whole, all but the filtered, in its own order
        mine = [line["n"] for line in lines if line["t"] == t]
        assert mine == [n for n in range(500) if n % 100]


def test_the_writer_writes_without_waiting_for_stop(settings, tmp_path, root_restored):
    import time

    path = tmp_path / "service.log"
    logs.configure(dataclasses.replace(settings, log_file=path), background=True)
    logging.getLogger("marketplace.test.live").warning("soon")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not path.read_text(encoding="utf-8"):
        time.sleep(0.02)
    assert json.loads(path.read_text(encoding="utf-8"))["message"] == "soon"


def test_one_destination_the_file_when_set(settings, tmp_path, root_restored):
    stream, path = io.StringIO(), tmp_path / "service.log"
    logs.configure(dataclasses.replace(settings, log_file=path), stream)
    logging.getLogger("marketplace.test.one").warning("where")
    assert stream.getvalue() == ""
    assert json.loads(path.read_text(encoding="utf-8"))["message"] == "where"
    logs.configure(settings, stream)
    logging.getLogger("marketplace.test.one").warning("stdout")
    assert json.loads(stream.getvalue())["message"] == "stdout"


def test_the_stock_profile_writes_both_with_the_stdlib_formatter(settings, tmp_path, root_restored):
    stream, path = io.StringIO(), tmp_path / "service.log"
    stock = dataclasses.replace(settings, log_file=path, instrumentation="stock")
    logs.configure(stock, stream, background=True)
    ours = [h for h in root_restored.handlers if getattr(h, "_marketplace_handler", False)]
    assert len(ours) == 2 and all(isinstance(h.formatter, logs.StockFormatter) for h in ours)
    logging.getLogger("marketplace.test.stock").warning("both")
    assert json.loads(stream.getvalue()) == json.loads(path.read_text(encoding="utf-8"))


def test_the_orjson_formatter_writes_what_the_stdlib_one_did(settings):
    record = logging.LogRecord("marketplace.search", logging.INFO, __file__, 1, "Hi", None, None)
    record.query, record.limit, record.cache_hit, record.text = "ü\n\u2028", 5, True, "é"
    fast = logs.Formatter(settings.variant).format(record)
    slow = logs.StockFormatter(settings.variant).format(record)
    assert json.loads(fast) == json.loads(slow)
    assert list(json.loads(fast)) == list(json.loads(slow))
    assert "\n" not in fast


def test_granian_loggers_reach_the_root_handler_and_ours_stay_enabled(settings, root_restored):
    from granian.log import LogLevels, configure_logging

    stream = io.StringIO()
    logs.configure(settings, stream)
    ours = logging.getLogger("marketplace.test.existing")  # exists before granian's config
    # granian's own defaults first (its loggers with stdout handlers that do not propagate),
    # then ours, applied the way granian applies `log_dictconfig`
    configure_logging(LogLevels.info)
    configure_logging(LogLevels.info, logs.granian_log_config())
    logging.getLogger("_granian").warning("Spawning worker-1 with PID: 7")
    logging.getLogger("granian.access").warning("GET /api/v1/search 200")
    ours.warning("still enabled")
    lines = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert [(line["logger"], line["service"]) for line in lines] == [
        ("_granian", "marketplace"),
        ("granian.access", "marketplace"),
        ("marketplace.test.existing", "marketplace"),
    ]


def test_close_exports_spans_before_it_stops_the_logs_and_runs_once():
    calls = []

    class Provider:
        def shutdown(self):
            calls.append("spans")

    close = lifecycle.closer(Provider(), lambda: calls.append("logs"))
    close()
    close()
    assert calls == ["spans", "logs"]
    assert lifecycle.closer(None, None)() is None


def test_close_waits_a_bounded_time_for_an_export_that_cannot_finish():
    import time

    written = []

    class Stuck:
        def shutdown(self):
            time.sleep(30)

    started = time.monotonic()
    lifecycle.closer(Stuck(), lambda: written.append("logs"), export_seconds=0.2)()
    assert written == ["logs"] and time.monotonic() - started < 5
