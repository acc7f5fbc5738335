"""Every Prometheus metric the service exposes, defined once against a registry passed in.

Base units (seconds), bounded labels only: `error_type`, `cache`, `query`, `route` and `code`
take values from fixed sets, never from user input, so the number of series does not grow with
the number of distinct queries or package ids. The variant is not a label: Prometheus adds it as
the `version` target label. Latency observations carry the current trace id as an exemplar,
which only the OpenMetrics exposition shows (negotiated on /metrics).
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)

from .tracing import UNMATCHED_ROUTE, current_trace_id

# Fine at the low end where v2 lives, and 0.05/0.1/0.2/0.5 for the SLO thresholds and rules.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0, 10.0)

# Server-side failure kinds only; a client's bad input is a 400, not a search error.
ERROR_TYPES = ("injected", "rdf_query", "internal")
CACHES = ("search", "lookup")
RDF_QUERIES = ("search", "lookup", "lookup_keywords", "lookup_dependencies", "install_closure")
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"})

# `_created` samples would double the series count in the text format for no use here.
disable_created_metrics()


class Metrics:
    """The service's metrics on `registry`, plus the default process/platform/gc collectors."""

    def __init__(self, registry: CollectorRegistry, *, version: str, variant: str):
        self.registry = registry
        ProcessCollector(registry=registry)
        PlatformCollector(registry=registry)
        GCCollector(registry=registry)

        self.search_total = Counter(
            "marketplace_search", "Searches executed (valid requests).", registry=registry
        )
        self.search_errors = Counter(
            "marketplace_search_errors",
            "Searches that failed on the server side, by error type from a fixed set.",
            ["error_type"],
            registry=registry,
        )
        self.cache_hits = Counter(
            "marketplace_cache_hits", "Cache lookups that hit.", ["cache"], registry=registry
        )
        self.cache_misses = Counter(
            "marketplace_cache_misses",
            "Cache lookups that missed (or bypassed the cache).",
            ["cache"],
            registry=registry,
        )
        self.search_duration = Histogram(
            "marketplace_search_duration_seconds",
            "Search latency.",
            buckets=BUCKETS,
            registry=registry,
        )
        self.lookup_duration = Histogram(
            "marketplace_lookup_duration_seconds",
            "Package lookup latency.",
            buckets=BUCKETS,
            registry=registry,
        )
        self.install_duration = Histogram(
            "marketplace_install_duration_seconds",
            "Install plan resolution latency.",
            buckets=BUCKETS,
            registry=registry,
        )
        self.rdf_query_duration = Histogram(
            "marketplace_rdf_query_duration_seconds",
            "SPARQL query latency, by query name from a fixed set.",
            ["query"],
            buckets=BUCKETS,
            registry=registry,
        )
        self.cache_entries = Gauge(
            "marketplace_cache_entries", "Entries held in a cache.", ["cache"], registry=registry
        )
        self.searches_in_progress = Gauge(
            "marketplace_searches_in_progress", "Searches being executed now.", registry=registry
        )
        self.http_requests = Counter(
            "marketplace_http_requests",
            "HTTP requests answered, by method, URL rule and status code.",
            ["method", "route", "code"],
            registry=registry,
        )
        self.http_duration = Histogram(
            "marketplace_http_request_duration_seconds",
            "HTTP request latency, by method and URL rule.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=registry,
        )
        # Not a span count: spans the exporter's bounded queue could not hold (exporter down or
        # too slow); the first drop is also one `spans_dropped` log line (tracing.SpanDrops).
        self.spans_dropped = Counter(
            "marketplace_tracing_spans_dropped",
            "Finished spans dropped because the export queue was full.",
            registry=registry,
        )
        # `app_version`, not `version`: Prometheus attaches the variant as the `version` target
        # label, and a clash would rename this one to `exported_version`.
        Info("marketplace_build", "Build of the service.", registry=registry).info(
            {"app_version": version, "variant": variant}
        )
        self._http_children: dict[tuple, tuple] = {}
        # Series that exist from the start, so rate() sees 0 rather than nothing.
        for error_type in ERROR_TYPES:
            self.search_errors.labels(error_type=error_type)
        for cache in CACHES:
            self.cache_hits.labels(cache=cache)
            self.cache_misses.labels(cache=cache)
        for query in RDF_QUERIES:
            self.rdf_query_duration.labels(query=query)

    @staticmethod
    def observe(histogram, seconds: float) -> None:
        """Observe with the current trace id as exemplar when a sampled span is active."""
        trace_id = current_trace_id()
        histogram.observe(seconds, {"trace_id": trace_id} if trace_id else None)

    def search_error(self, error_type: str) -> None:
        if error_type not in ERROR_TYPES:
            error_type = "internal"
        self.search_errors.labels(error_type=error_type).inc()

    def cache_access(self, cache: str, hit: bool) -> None:
        (self.cache_hits if hit else self.cache_misses).labels(cache=cache).inc()

    def http_request(self, method: str, route: str | None, code: int, seconds: float) -> None:
        key = (method, route, code)
        children = self._http_children.get(key)
        if children is None:
            # labels() resolves a child under a lock on every call; the set of keys is bounded
            # (methods x URL rules x status codes), so remember each pair once.
            method = method if method in HTTP_METHODS else "OTHER"
            route = route or UNMATCHED_ROUTE
            children = (
                self.http_requests.labels(method=method, route=route, code=str(code)),
                self.http_duration.labels(method=method, route=route),
            )
            if method != "OTHER":
                self._http_children[key] = children
        children[0].inc()
        self.observe(children[1], seconds)
