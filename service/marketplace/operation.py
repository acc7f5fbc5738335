"""One API operation's signals, written in one place: its span, its latency histogram (with the
trace id as exemplar), its completion log line and, for operations that count failures, the
error counter with the failure's log line.

    with Operation(mp, SEARCH, {"marketplace.query": q}, query=q) as op:
        results = ...
        op.done({"marketplace.result_count": len(results)}, result_count=len(results))

The log line is written inside the span, so it carries the operation's own span id; its
`duration_ms` is the histogram's observation. A client error (an `HTTPException` such as a 404
raised inside) is neither a completion nor a failure: the span records it and the error handler
answers it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from werkzeug.exceptions import HTTPException

from .faults import InjectedFault
from .stores import RdfQueryError
from .tracing import active_span

# What a failed operation's log line says: fixed per error type, never the exception's text.
ERROR_MESSAGES = {
    "injected": "injected fault",
    "rdf_query": "SPARQL query failed",
    "internal": "unexpected error",
}


@dataclass(frozen=True)
class Kind:
    span: str  # span name
    histogram: str  # the Metrics attribute observed with the duration
    logger: logging.Logger
    completed: str  # message of the completion line
    failed: str | None = None  # message of the failure line; None: failures are not counted


SEARCH = Kind(
    "marketplace.search",
    "search_duration",
    logging.getLogger("marketplace.search"),
    "Search completed",
    "Search failed",
)
LOOKUP = Kind(
    "marketplace.lookup",
    "lookup_duration",
    logging.getLogger("marketplace.lookup"),
    "Lookup completed",
)
INSTALL = Kind(
    "marketplace.install",
    "install_duration",
    logging.getLogger("marketplace.install"),
    "Install planned",
)


def error_type(exc: BaseException) -> str:
    if isinstance(exc, InjectedFault):
        return "injected"
    if isinstance(exc, RdfQueryError):
        return "rdf_query"
    return "internal"


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 3)


class Operation:
    __slots__ = ("_span", "_start", "fields", "kind", "mp", "outcome", "span")

    def __init__(self, mp, kind: Kind, attributes: dict, **fields):
        self.mp = mp
        self.kind = kind
        self.fields = fields  # the log line's own fields, in order; done() appends
        self.outcome: dict = {}
        self._span = active_span(mp.tracer, kind.span, attributes)

    def __enter__(self) -> Operation:
        self._start = time.perf_counter()
        self.span = self._span.__enter__()
        return self

    def done(self, attributes: dict, **fields) -> None:
        """The outcome: span attributes, and the completion line's fields after duration_ms."""
        self.span.set_attributes(attributes)
        self.outcome = fields

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            elapsed = time.perf_counter() - self._start
            metrics = self.mp.metrics
            metrics.observe(getattr(metrics, self.kind.histogram), elapsed)
            if exc is None:
                self.kind.logger.info(
                    self.kind.completed,
                    extra={**self.fields, **self._with_duration(elapsed)},
                )
            elif self.kind.failed and not isinstance(exc, HTTPException):
                kind = error_type(exc)
                metrics.search_error(kind)
                self.span.set_attribute("marketplace.error_type", kind)
                self.kind.logger.error(
                    self.kind.failed,
                    extra={
                        **self.fields,
                        "duration_ms": _ms(elapsed),
                        "error": ERROR_MESSAGES[kind],
                        "error_type": kind,
                    },
                )
        finally:
            self._span.__exit__(exc_type, exc, traceback)

    def _with_duration(self, elapsed: float) -> dict:
        """The outcome's fields with duration_ms where the contract puts it: after the counts,
        before the cache flag."""
        outcome = dict(self.outcome)
        cache_hit = outcome.pop("cache_hit", None)
        outcome["duration_ms"] = _ms(elapsed)
        if cache_hit is not None:
            outcome["cache_hit"] = cache_hit
        return outcome
