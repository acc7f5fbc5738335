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
from opentelemetry import trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.trace import SpanKind

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


def _span_name(rule: str | None, method: str) -> str:
    if rule is None:
        # one name for every unrouted path: span metrics would make one series per scanned path
        return f"{method if method in KNOWN_METHODS else 'HTTP'} {UNMATCHED_ROUTE}"
    return f"{method} {rule}"


class ServerSpans:
    """WSGI middleware: probes straight to the app, everything else through the OTel middleware."""

    def __init__(self, wsgi_app, provider):
        from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware

        self.untraced = wsgi_app
        # Request metrics come from prometheus-client (metrics.py): no OTel meter.
        self.traced = OpenTelemetryMiddleware(
            wsgi_app, tracer_provider=provider, meter_provider=NoOpMeterProvider()
        )

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") in EXCLUDED_PATHS:
            return self.untraced(environ, start_response)
        if "RAW_URI" not in environ and "REQUEST_URI" not in environ:
            # http.target comes from these; servers that set neither (granian) get the PEP 3333
            # reconstruction the Flask instrumentor would have reported as the target
            query = environ.get("QUERY_STRING")
            path = environ.get("PATH_INFO", "")
            environ["RAW_URI"] = f"{path}?{query}" if query else path
        # The middleware ends the span (and detaches its context) when the body has been
        # iterated; iterating here, in the request's own context, keeps a server that iterates
        # later or elsewhere (werkzeug's test client does) from leaving the span current. The
        # service's bodies are whole JSON documents, never streams, and a list is also the
        # servers' fast path.
        return list(self.traced(environ, start_response))


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
