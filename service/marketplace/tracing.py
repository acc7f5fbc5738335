"""OpenTelemetry tracing: SDK provider per app, exporters chosen by the standard OTEL_* variables.

No OTEL_* variable set means no exporter at all: spans still exist (their ids go into logs and
exemplars) but nothing is sent and nothing complains about a missing collector.
The provider is not made global: each app (tests build many) owns its own, and every span the
service starts comes from the app's tracer.

The server span per request comes from opentelemetry-instrumentation-wsgi's
`OpenTelemetryMiddleware` around Flask's WSGI app, named after Flask's URL rule once routing has
matched: the span name, kind, HTTP attributes and traceparent propagation of
opentelemetry-instrumentation-flask, for a fraction of its CPU (docs/service.md, "What the
instrumentation costs"). `MARKETPLACE_INSTRUMENTATION=stock` keeps the Flask instrumentor, as the
benchmark's baseline.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from opentelemetry import context, trace
from opentelemetry.trace import Status, StatusCode

if TYPE_CHECKING:
    from flask import Flask

    from .settings import Settings

log = logging.getLogger("marketplace.tracing")

UNMATCHED_ROUTE = "<unmatched>"  # also the `route` label of such requests (metrics.py)
# RFC 9110 and 5789 methods; any other (client-chosen text) names no span.
KNOWN_METHODS = frozenset(
    {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}
)


def current_trace_id() -> str | None:
    """32-hex trace id of the active sampled span, for exemplars."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid and ctx.trace_flags.sampled:
        return format(ctx.trace_id, "032x")
    return None


def current_ids() -> tuple[str, str] | None:
    """(trace_id, span_id) of the active sampled span, for log lines: an unsampled span is never
    exported, so its id would point at a trace nobody can open."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid and ctx.trace_flags.sampled:
        return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")
    return None


class active_span:  # lower case: used where start_as_current_span was
    """`tracer.start_as_current_span(name, attributes=...)` for the request path.

    The same span and context, and like the SDK an exception leaving the block is recorded on
    the span with the error status; one class-based context manager instead of the SDK's two
    nested generator-based ones, which cost about 10 us per span.
    """

    __slots__ = ("span", "token")

    def __init__(self, tracer: trace.Tracer, name: str, attributes: dict):
        self.span = tracer.start_span(name, attributes=attributes)

    def __enter__(self) -> trace.Span:
        self.token = context.attach(trace.set_span_in_context(self.span))
        return self.span

    def __exit__(self, exc_type, exc, traceback) -> None:
        span = self.span
        try:
            if exc is not None and span.is_recording():
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{exc_type.__name__}: {exc}"))
            span.end()
        finally:
            context.detach(self.token)


def _exporter(name: str, settings: Settings):
    # Imported lazily: the gRPC stack costs start-up time and memory when unused.
    if name == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if settings.otlp_protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    elif settings.otlp_encode_chunk:
        from .spanexport import ChunkedGrpcSpanExporter

        return ChunkedGrpcSpanExporter(settings.otlp_encode_chunk)
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter()  # endpoint, headers, timeout: from OTEL_EXPORTER_OTLP_* itself


def hash_once(resource):
    """The resource, hashed once. The OTLP encoder groups every batch by resource, hashing it
    once a span, and the SDK's `Resource.__hash__` serialises every attribute to JSON each time
    (opentelemetry-python pull request 5577 calls that wasteful on the export path); a resource
    never changes, and this one equals, and hashes like, the plain one."""
    from opentelemetry.sdk.resources import Resource

    class HashOnceResource(Resource):
        def __init__(self, attributes, schema_url=None):
            super().__init__(attributes, schema_url)
            self._hash = super().__hash__()

        def __hash__(self) -> int:
            return self._hash

    return HashOnceResource(resource.attributes, resource.schema_url)


class SpanDrops:
    """What the batch processor drops when its bounded queue is full (the exporter cannot keep
    up, or the endpoint is down): every span counted, the first drop said in one log line; the
    SDK's own warning would repeat for every span."""

    def __init__(self, count: Callable[[int], None]):
        self._count = count
        self._lock = threading.Lock()
        self._said = False

    def __call__(self, spans: int) -> None:
        self._count(spans)
        if self._said:
            return
        with self._lock:
            if self._said:
                return
            self._said = True
        log.warning(
            "Span export queue full: spans are dropped until the exporter catches up",
            extra={"event": "spans_dropped", "metric": "marketplace_tracing_spans_dropped_total"},
        )


def build_tracer_provider(
    settings: Settings, version: str, extra_exporter=None, drops: SpanDrops | None = None
):
    """A TracerProvider with the contract's resource; None when OTEL_SDK_DISABLED=true."""
    if settings.otel_sdk_disabled:
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor

    from .spanqueue import batch_processor  # the SDK's processor: imported only when tracing

    resource = Resource.create(
        {
            "service.name": settings.otel_service_name,
            "service.version": version,
            "marketplace.variant": settings.variant,
            "deployment.environment": settings.environment,
        }
    )
    resource = hash_once(resource)
    provider = TracerProvider(resource=resource)
    for name in settings.traces_exporters:
        exporter = _exporter(name, settings)
        provider.add_span_processor(
            batch_processor(exporter, settings.span_queue_wait_seconds, drops)
        )
    if extra_exporter is not None:
        # Tests read finished spans synchronously.
        provider.add_span_processor(SimpleSpanProcessor(extra_exporter))
    return provider


class _PassThroughTracer(trace.Tracer):
    """MARKETPLACE_INTERNAL_SPANS=false: no span per operation; the request's server span stays
    current, so log lines and exemplars still carry its trace id."""

    def start_span(self, name, context=None, *args, **kwargs):
        return trace.NonRecordingSpan(trace.get_current_span(context).get_span_context())

    def start_as_current_span(self, name, context=None, *args, **kwargs):
        return trace.use_span(self.start_span(name, context), end_on_exit=False)


def init_app(
    app: Flask, settings: Settings, version: str, drops: SpanDrops | None = None
) -> trace.Tracer:
    """The provider (in `app.extensions`; httpspans adds the server span per request with it) and
    the tracer for the service's own spans. The provider is shut down (its spans exported) by
    `app.extensions["marketplace.close"]`."""
    provider = build_tracer_provider(settings, version, app.config.get("SPAN_EXPORTER"), drops)
    if provider is None:
        return trace.NoOpTracer()
    app.extensions["marketplace.tracer_provider"] = provider
    if not settings.internal_spans:
        return _PassThroughTracer()
    return provider.get_tracer("marketplace", version)
