"""The service's server-span middleware against opentelemetry-instrumentation-wsgi's own: the
same span for every kind of request, whether it takes the lean path or, with capture headers
configured, the library's."""

import pytest
from marketplace.httpspans import ServerSpans
from opentelemetry import trace
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.util.http import OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST

pytestmark = pytest.mark.unit

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


class Boom(RuntimeError):
    pass


def app(environ, start_response):
    """200, 503 or an exception, as the path asks; a body with `close`, as PEP 3333 allows."""
    path = environ["PATH_INFO"]
    if path == "/raise":
        raise Boom("catalog gone")
    start_response("503 Service Unavailable" if path == "/fail" else "200 OK", [("X-Id", "7")])
    return Closing([b"{}"])


class Closing(list):
    closed = 0

    def close(self):
        Closing.closed += 1


def environ(path, **headers):
    env = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "QUERY_STRING": "q=web",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": "http",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "curl/8.5.0",
        "RAW_URI": f"{path}?q=web",
    }
    env.update({f"HTTP_{k.upper()}": v for k, v in headers.items()})
    return env


def served(middleware, env):
    statuses = []
    try:
        body = middleware(env, lambda status, headers, *a: statuses.append(status))
        return b"".join(body), statuses
    except Boom:
        return None, statuses


def spans_of(make):
    """(span, what the client saw) for each request, through the middleware `make` builds."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    middleware = make(app, provider)
    found = []
    for path, headers in [
        ("/api/v1/search", {}),
        ("/api/v1/search", {"traceparent": TRACEPARENT, "x_request_id": "r-1"}),
        ("/fail", {}),
        ("/raise", {}),
    ]:
        exporter.clear()
        seen = served(middleware, environ(path, **headers))
        (span,) = exporter.get_finished_spans()
        assert trace.get_current_span() is trace.INVALID_SPAN, "the span outlived its request"
        found.append((seen, describe(span)))
    return found


def describe(span):
    return (
        span.name,
        span.kind,
        span.status.status_code,
        span.status.description,
        dict(span.attributes),
        format(span.context.trace_id, "032x") if span.parent else None,
        span.parent.span_id if span.parent else None,
        # the stack trace names the frames of each middleware
        [
            (e.name, {k: v for k, v in e.attributes.items() if k != "exception.stacktrace"})
            for e in span.events
        ],
    )


def library(wsgi_app, provider):
    middleware = OpenTelemetryMiddleware(
        wsgi_app, tracer_provider=provider, meter_provider=NoOpMeterProvider()
    )
    return lambda env, start_response: list(middleware(env, start_response))


def test_the_lean_path_makes_the_librarys_span_for_each_kind_of_request():
    lean, stock = spans_of(ServerSpans), spans_of(library)
    assert lean == stock
    ok, continued, failed, raised = (span for _, span in lean)
    assert ok[1] is trace.SpanKind.SERVER and ok[2] is trace.StatusCode.UNSET
    assert continued[5] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert failed[2] is trace.StatusCode.ERROR
    assert raised[2] is trace.StatusCode.ERROR and raised[3] == "Boom: catalog gone"
    assert [name for name, _ in raised[7]] == ["exception"]


def test_the_body_is_closed_once_a_request():
    Closing.closed = 0
    spans_of(ServerSpans)
    assert Closing.closed == 3  # the raising request has no body


def test_with_capture_headers_set_the_captured_header_is_on_the_span(monkeypatch):
    monkeypatch.setenv(OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SERVER_REQUEST, "x-request-id")
    lean, stock = spans_of(ServerSpans), spans_of(library)
    assert lean == stock
    attributes = lean[1][1][4]
    assert attributes["http.request.header.x_request_id"] == ("r-1",)


def test_probes_reach_the_app_untraced():
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    body, statuses = served(ServerSpans(app, provider), environ("/healthz"))
    assert (body, statuses) == (b"{}", ["200 OK"])
    assert exporter.get_finished_spans() == ()
