"""The server span of every request: opentelemetry-instrumentation-wsgi's middleware, named from
Flask's URL rule (`lean`, the default), or opentelemetry-instrumentation-flask (`stock`).

Both give the same span: kind SERVER, named `METHOD <url rule>` (`GET <unmatched>` when no rule
matched, `HTTP <unmatched>` for a method outside RFC 9110), the HTTP semantic-convention
attributes `http.route` included, traceparent continued, a 5xx an error. The Flask instrumentor
also collects the request attributes a second time for a metric we switch off, rebuilds the URL
to match its exclusion regexes and evaluates its options per request; the middleware does none of
that, and probes skip it by their path alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import request
from opentelemetry import context, trace
from opentelemetry.instrumentation import wsgi
from opentelemetry.instrumentation._semconv import _report_new
from opentelemetry.instrumentation.utils import _start_internal_or_server_span
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.semconv.attributes.error_attributes import ERROR_TYPE
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.util.http import (
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST,
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE,
    get_custom_headers,
)

from .tracing import KNOWN_METHODS, UNMATCHED_ROUTE

if TYPE_CHECKING:
    from flask import Flask

    from .settings import Settings

# Probes and scrapes would drown the traces that matter. Matched on the path only, so a search
# for "metrics" is still traced.
EXCLUDED_PATHS = frozenset(
    p for name in ("healthz", "readyz", "metrics") for p in (f"/{name}", f"/{name}/")
)
# The same for the Flask instrumentor, which searches each regex anywhere in the full URL.
EXCLUDED_URLS = r"^[a-z]+://[^/]+/(healthz|readyz|metrics)/?(\?|$)"
CAPTURE_HEADER_VARIABLES = (
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST,
    OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_RESPONSE,
)


def _span_name(rule: str | None, method: str) -> str:
    if rule is None:
        # one name for every unrouted path: span metrics would make one series per scanned path
        return f"{method if method in KNOWN_METHODS else 'HTTP'} {UNMATCHED_ROUTE}"
    return f"{method} {rule}"


class ServerSpans(wsgi.OpenTelemetryMiddleware):
    """The library's middleware, with probes passed straight to the app and the request path kept
    lean.

    Per request, the library's `__call__` parses the capture-header variables four times,
    computes the attributes of request metrics that the no-op meter throws away, and makes the
    span current twice through generator-based context managers: about 40 us per request on
    this machine, a third of its cost (docs/service.md). This one builds the same span in one
    pass with the library's own functions for the attributes, name, parent and response
    status. When a capture-header variable is set (read once, here) every request takes the
    library's path, so those attributes come exactly as the library makes them.
    """

    def __init__(self, wsgi_app, provider):
        # Request metrics come from prometheus-client (metrics.py): no OTel meter.
        super().__init__(wsgi_app, tracer_provider=provider, meter_provider=NoOpMeterProvider())
        self.capture_headers = any(map(get_custom_headers, CAPTURE_HEADER_VARIABLES))

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") in EXCLUDED_PATHS:
            return self.wsgi(environ, start_response)
        if "RAW_URI" not in environ and "REQUEST_URI" not in environ:
            # http.target comes from these; servers that set neither (granian) get the PEP 3333
            # reconstruction the Flask instrumentor would have reported as the target
            query = environ.get("QUERY_STRING")
            path = environ.get("PATH_INFO", "")
            environ["RAW_URI"] = f"{path}?{query}" if query else path
        # The body is iterated here, in the request's own context, so that a server that
        # iterates later or elsewhere (werkzeug's test client does) never finds the span still
        # current. The service's bodies are whole JSON documents, never streams, and a list is
        # also the servers' fast path.
        if self.capture_headers:
            return list(super().__call__(environ, start_response))
        return self._traced(environ, start_response)

    def _traced(self, environ, start_response) -> list[bytes]:
        mode = self._sem_conv_opt_in_mode
        attributes = wsgi.collect_request_attributes(environ, mode)
        span, token = _start_internal_or_server_span(
            tracer=self.tracer,
            span_name=wsgi.get_default_span_name(environ),
            start_time=None,
            context_carrier=environ,
            context_getter=wsgi.wsgi_getter,
            attributes=attributes,
        )

        def traced_start_response(status, headers, *args):
            wsgi.add_response_attributes(span, status, headers, attributes, mode)
            return start_response(status, headers, *args)

        current = context.attach(trace.set_span_in_context(span))
        try:
            body = self.wsgi(environ, traced_start_response)
            try:
                return list(body)
            finally:
                if hasattr(body, "close"):
                    body.close()
        except Exception as exc:
            # what the library's use_span and its own handler record
            if span.is_recording():
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
                if _report_new(mode):
                    span.set_attribute(ERROR_TYPE, type(exc).__qualname__)
                    span.set_status(Status(StatusCode.ERROR, str(exc)))
            raise
        finally:
            context.detach(current)
            span.end()
            if token is not None:
                context.detach(token)


def _name_from_rule() -> None:
    """Once routing has run: the middleware named the span after the raw path."""
    span = trace.get_current_span()
    if not span.is_recording() or getattr(span, "kind", None) is not SpanKind.SERVER:
        return
    rule = request.url_rule
    span.update_name(_span_name(None if rule is None else rule.rule, request.method))
    if rule is not None:
        span.set_attribute("http.route", rule.rule)


def _name_unmatched(span, environ) -> None:
    if request.url_rule is None and span.is_recording():
        span.update_name(_span_name(None, environ.get("REQUEST_METHOD", "")))


def init_app(app: Flask, settings: Settings, provider) -> None:
    if settings.instrumentation == "stock":
        from opentelemetry.instrumentation.flask import FlaskInstrumentor

        FlaskInstrumentor().instrument_app(
            app,
            request_hook=_name_unmatched,
            tracer_provider=provider,
            excluded_urls=EXCLUDED_URLS,
            enable_commenter=False,
            meter_provider=NoOpMeterProvider(),
        )
        return
    # First of the before_request functions, so an early abort (413) still names the span.
    app.before_request_funcs.setdefault(None, []).insert(0, _name_from_rule)
    app.wsgi_app = ServerSpans(app.wsgi_app, provider)
