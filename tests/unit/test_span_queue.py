"""The span queue (marketplace/spanqueue.py): a request that finds it full waits for room while
the exporter keeps up, and never for an exporter that is stuck or failing."""

import threading
import time

import pytest
from marketplace import spanqueue, tracing
from marketplace.settings import Settings, SettingsError
from opentelemetry.sdk.trace.export import SpanExportResult

pytestmark = pytest.mark.unit

SMALL_QUEUE = {"OTEL_BSP_MAX_QUEUE_SIZE": "4", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2"}
REQUESTS = 10
SPANS_PER_REQUEST = 3  # server, search, cache (every search below misses the cache)


class SlowExporter:
    """A live endpoint that takes `seconds` an export: slower than the requests make spans."""

    def __init__(self, seconds=0.05, result=SpanExportResult.SUCCESS):
        self.seconds, self.result = seconds, result
        self.spans = 0

    def export(self, spans):
        time.sleep(self.seconds)
        self.spans += len(spans)
        return self.result

    def shutdown(self):
        pass

    def force_flush(self, timeout_millis=None):
        return True


class HangingExporter(SlowExporter):
    """A backend that answers until `hang` is set, then stops answering until `release` is."""

    def __init__(self):
        super().__init__()
        self.hang, self.release = threading.Event(), threading.Event()

    def export(self, spans):
        if self.hang.is_set():
            self.release.wait(30)
            return SpanExportResult.FAILURE
        self.spans += len(spans)
        return SpanExportResult.SUCCESS

    def shutdown(self):
        self.release.set()


def serve(make_app, monkeypatch, exporter, wait_ms, then=None, before_shutdown=None):
    """REQUESTS searches once an export has succeeded (and `then` was called); the drop count
    and the seconds they took."""
    for name, value in SMALL_QUEUE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(tracing, "_exporter", lambda name, settings: exporter)
    app = make_app(traces_exporters=("otlp",), span_queue_wait_seconds=wait_ms / 1000)
    provider = app.extensions["marketplace.tracer_provider"]
    client = app.test_client()
    try:
        assert client.get("/api/v1/search?q=first").status_code == 200
        provider.force_flush()  # the exporter has now delivered a batch: it is keeping up
        if then is not None:
            then()
        started = time.monotonic()
        statuses = [client.get(f"/api/v1/search?q=web{i}").status_code for i in range(REQUESTS)]
        elapsed = time.monotonic() - started
        registry = app.extensions["marketplace"].metrics.registry
        dropped = registry.get_sample_value("marketplace_tracing_spans_dropped_total")
    finally:
        if before_shutdown is not None:
            before_shutdown()
        provider.shutdown()
    assert statuses == [200] * REQUESTS
    return dropped, elapsed


def test_requests_wait_for_room_while_a_slow_exporter_keeps_up_and_no_span_is_lost(
    make_app, monkeypatch
):
    exporter = SlowExporter()
    dropped, elapsed = serve(make_app, monkeypatch, exporter, wait_ms=10_000)
    assert dropped == 0
    # every span reached the exporter, the shutdown's last batch included
    assert exporter.spans == (REQUESTS + 1) * SPANS_PER_REQUEST
    # Each waiting span was woken when the exporter took a batch (16 exports of 50 ms), not by
    # its 10 s bound running out.
    assert elapsed < 8


# At 0.2 s for 2 spans, a request would have to take 0.3 s for the queue not to fill.


def test_without_the_wait_the_same_exporter_loses_spans(make_app, monkeypatch):
    exporter = SlowExporter(0.2)
    dropped, _ = serve(make_app, monkeypatch, exporter, wait_ms=0)
    assert dropped > 0
    assert exporter.spans < (REQUESTS + 1) * SPANS_PER_REQUEST


def test_no_request_waits_for_an_exporter_whose_exports_fail(make_app, monkeypatch):
    exporter = SlowExporter(0.2, SpanExportResult.FAILURE)
    dropped, _ = serve(make_app, monkeypatch, exporter, wait_ms=10_000)
    assert dropped > 0


def test_no_request_waits_for_an_export_stuck_past_the_stall_limit(make_app, monkeypatch):
    monkeypatch.setattr(spanqueue, "STALL_SECONDS", 0.05)
    exporter = HangingExporter()
    # Waiting for room would take 5 s a span (nothing makes room); past the stall limit no span
    # waits, and they are dropped and counted as with no wait at all.
    dropped, elapsed = serve(
        make_app, monkeypatch, exporter, 5000, exporter.hang.set, exporter.release.set
    )
    assert dropped > 0
    assert elapsed < 5


def test_the_wait_is_a_setting_in_milliseconds_and_zero_turns_it_off():
    assert Settings.from_env({}).span_queue_wait_seconds == 0.1
    for milliseconds, seconds in (("250", 0.25), ("0", 0)):
        parsed = Settings.from_env({"MARKETPLACE_SPAN_QUEUE_WAIT_MS": milliseconds})
        assert parsed.span_queue_wait_seconds == seconds
    with pytest.raises(SettingsError, match=r"^MARKETPLACE_SPAN_QUEUE_WAIT_MS: "):
        Settings.from_env({"MARKETPLACE_SPAN_QUEUE_WAIT_MS": "-1"})


def test_the_processor_reports_the_exporter_it_was_given():
    exporter = SlowExporter()
    processor = spanqueue.batch_processor(exporter, 0.1)
    try:
        assert processor.span_exporter is exporter
    finally:
        processor.shutdown()
