"""OpenTelemetry tracing: SDK provider per app, exporters chosen by the standard OTEL_* variables.

No OTEL_* variable set means no exporter at all: spans still exist (their ids go into logs and
exemplars) but nothing is sent and nothing complains about a missing collector.
The provider is not made global: each app (tests build many) owns its own, and every span the
service starts comes from the app's tracer.

The server span per request comes from opentelemetry-instrumentation-flask: it costs about 0.2 ms
of CPU per request, as much as a cached search (docs/service.md, "What the instrumentation
costs"), and in exchange follows the HTTP semantic conventions as upstream revises them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import request
from opentelemetry import context, trace
from opentelemetry.trace import Status, StatusCode

if TYPE_CHECKING:
    from flask import Flask

    from .settings import Settings

# Probes and scrapes would drown the traces that matter.
# The instrumentor searches each regex anywhere in the full URL, query string included: anchored
# to the path, so that a search for "metrics" is still traced.
EXCLUDED_URLS = r"^[a-z]+://[^/]+/(healthz|readyz|metrics)/?(\?|$)"
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
    """(trace_id, span_id) of the active span, for log lines."""
    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
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
    else:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    return OTLPSpanExporter()  # endpoint, headers, timeout: from OTEL_EXPORTER_OTLP_* itself


def build_tracer_provider(settings: Settings, version: str, extra_exporter=None):
    """A TracerProvider with the contract's resource; None when OTEL_SDK_DISABLED=true."""
    if settings.otel_sdk_disabled:
        return None
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create(
        {
            "service.name": settings.otel_service_name,
            "service.version": version,
            "marketplace.variant": settings.variant,
            "deployment.environment": settings.environment,
        }
    )
    provider = TracerProvider(resource=resource)
    for name in settings.traces_exporters:
        provider.add_span_processor(BatchSpanProcessor(_exporter(name, settings)))
    if extra_exporter is not None:
        # Tests read finished spans synchronously.
        provider.add_span_processor(SimpleSpanProcessor(extra_exporter))
    return provider


def _name_unmatched(span, environ) -> None:
    """A request no URL rule matched would be named after its raw path ("GET /wp-login.php"):
    one span name per scanned path, which span-metrics would turn into one series each."""
    if request.url_rule is None and span.is_recording():
        method = environ.get("REQUEST_METHOD", "")
        span.update_name(f"{method if method in KNOWN_METHODS else 'HTTP'} {UNMATCHED_ROUTE}")


def init_app(app: Flask, settings: Settings, version: str) -> trace.Tracer:
    provider = build_tracer_provider(settings, version, app.config.get("SPAN_EXPORTER"))
    if provider is None:
        return trace.NoOpTracer()
    from opentelemetry.instrumentation.flask import FlaskInstrumentor
    from opentelemetry.metrics import NoOpMeterProvider

    FlaskInstrumentor().instrument_app(
        app,
        request_hook=_name_unmatched,
        tracer_provider=provider,
        excluded_urls=EXCLUDED_URLS,
        enable_commenter=False,
        # Request metrics come from prometheus-client (metrics.py); the OTel copies would only
        # cost time on every request.
        meter_provider=NoOpMeterProvider(),
    )
    app.extensions["marketplace.tracer_provider"] = provider
    return provider.get_tracer("marketplace", version)
