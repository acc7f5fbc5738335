"""The span queue between the request threads and the exporter: bounded
(`OTEL_BSP_MAX_QUEUE_SIZE`), its drops counted and said once (`tracing.SpanDrops`), and, while
the exporter keeps its end up, a moment's wait for room instead of a lost span.

Why wait: the export runs on one thread of the serving process and needs the interpreter to
encode each span. At saturation eight request threads hold it most of the time, and on a fast
host (2,500-3,800 searches a second) the export thread fell behind until the queue overflowed:
3-30% of the spans of a 5-second load at 16 connections were dropped (docs/service.md, "A full
span queue waits for a live exporter"). The Python SDK can only drop there; the Go SDK offers
the other choice (`WithBlocking`), and this is that choice, bounded. A request thread that would
queue a span into a queue within one batch of full waits until the exporter takes its next
batch, at most `MARKETPLACE_SPAN_QUEUE_WAIT_MS` a span (0: drop at once, the SDK's way). Waiting
lets go of the interpreter, which is what the export thread was short of.

Only while the exporter keeps its end up: its last export succeeded and the one under way began
less than `STALL_SECONDS` ago. A backend that fails, refuses or stops answering is waited for in
the first `STALL_SECONDS` of its outage at most; its spans are then dropped and counted as before
(docs/service.md, "When the tracing backend is unreachable").
"""

from __future__ import annotations

import inspect
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Sequence

from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExportResult

# told the number of spans each drop lost (tracing.SpanDrops)
Drops = Callable[[int], None]

# A healthy export of one batch takes milliseconds, tens at saturation; the exporters' first retry
# after a failure waits a second. An export under way for longer is stuck on its backend.
STALL_SECONDS = 1.0


class _QueueFullFilter(logging.Filter):
    """Drops the SDK's per-span "Queue full" warning: SpanDrops reports the drop once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Queue full")


_SDK_BATCH_LOGGER = "opentelemetry.sdk._shared_internal"


class _DropHook:
    """The batch processor's internal-metrics object with `drop_items` also feeding `drops`.
    The processor offers no public drop callback; this object is the one place it reports a
    drop (opentelemetry-sdk 1.45, `_shared_internal.BatchProcessor.emit`)."""

    def __init__(self, inner, drops: Drops):
        self._inner, self._drops = inner, drops

    def register_queue_size(self, get_queue_size) -> None:
        self._inner.register_queue_size(get_queue_size)

    def finish_items(self, count: int) -> None:
        self._inner.finish_items(count)

    def drop_items(self, count: int, error_type: str = "queue_full") -> None:
        self._inner.drop_items(count, error_type)
        if error_type == "queue_full":
            self._drops(count)


class _Watched:
    """The exporter, as the batch processor calls it, telling waiting request threads when it
    takes a batch (the processor has just made room) and whether it is keeping its end up."""

    def __init__(self, exporter):
        self.exporter = exporter
        self._reset()
        self.succeeding = False  # nothing exported yet: no reason to wait for it
        if hasattr(os, "register_at_fork"):
            # like the SDK's processor: a child starts its own worker, and must not inherit a
            # lock held at the fork or the parent's export under way
            own = weakref.WeakMethod(self._reset)
            os.register_at_fork(after_in_child=lambda: (reset := own()) and reset())

    def _reset(self) -> None:
        self.room = threading.Condition()
        self.started: float | None = None  # the export under way, if any
        self.exporting = threading.local()  # `.now` set in the thread that is exporting

    def patience(self) -> float:
        """How much longer it may be waited for: none once an export failed, or once the one
        under way has gone on for STALL_SECONDS."""
        if not self.succeeding:
            return 0.0
        started = self.started
        return STALL_SECONDS if started is None else STALL_SECONDS - (time.monotonic() - started)

    def export(self, spans: Sequence) -> SpanExportResult:
        self.started = time.monotonic()
        self.exporting.now = True
        with self.room:
            self.room.notify_all()
        try:
            result = self.exporter.export(spans)
        except Exception:
            self.succeeding = False
            raise
        finally:
            self.started = None
            self.exporting.now = False
        self.succeeding = result is SpanExportResult.SUCCESS
        return result

    def shutdown(self, timeout_millis: float = 30_000, **kwargs) -> None:
        # the processor's own test (opentelemetry-sdk 1.45): the HTTP exporter's takes no timeout
        if "timeout_millis" in inspect.getfullargspec(self.exporter.shutdown).args:
            self.exporter.shutdown(timeout_millis=timeout_millis, **kwargs)
        else:
            self.exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.exporter.force_flush(timeout_millis)


class WaitingBatchSpanProcessor(BatchSpanProcessor):
    """The SDK's BatchSpanProcessor (its sizes from OTEL_BSP_*), whose `on_end` waits up to
    `wait_seconds` for room while the queue is within one batch of full and the exporter keeps
    its end up (the module's docstring says why)."""

    def __init__(self, exporter, wait_seconds: float):
        self._watched = _Watched(exporter)
        super().__init__(self._watched)
        inner = self._batch_processor
        self._queue = inner._queue  # read here so that an SDK that renames it fails at start-up
        # One batch of headroom, so request threads that pass the check together cannot overflow
        # it; and never under one batch, the length at which the processor wakes its worker.
        batch = inner._max_export_batch_size
        self._full = max(batch, inner._max_queue_size - batch)
        self.wait_seconds = wait_seconds
        self._closing = False

    @property
    def span_exporter(self):
        return self._watched.exporter

    def on_end(self, span) -> None:
        full = len(self._queue) >= self._full
        if full and self.wait_seconds and span.context.trace_flags.sampled:
            self._wait_for_room()
        super().on_end(span)

    def shutdown(self):
        self._closing = True  # no worker will make room any more
        with self._watched.room:
            self._watched.room.notify_all()
        return super().shutdown()

    def _wait_for_room(self) -> None:
        watched, deadline = self._watched, time.monotonic() + self.wait_seconds
        if getattr(watched.exporting, "now", False):
            return  # a span ended inside the export: only this thread could make the room
        with watched.room:
            while len(self._queue) >= self._full and not self._closing:
                timeout = min(deadline - time.monotonic(), watched.patience())
                if timeout <= 0:
                    return
                watched.room.wait(timeout)


def batch_processor(exporter, wait_seconds: float, drops: Drops | None = None):
    """The span processor of an exporter: queue-full drops go to `drops`, and a full queue is
    waited on for up to `wait_seconds` while the exporter keeps up."""
    processor = WaitingBatchSpanProcessor(exporter, wait_seconds)
    if drops is not None:
        inner = processor._batch_processor
        inner._metrics = _DropHook(inner._metrics, drops)
        sdk_log = logging.getLogger(_SDK_BATCH_LOGGER)
        if not any(isinstance(f, _QueueFullFilter) for f in sdk_log.filters):
            sdk_log.addFilter(_QueueFullFilter())
    return processor
