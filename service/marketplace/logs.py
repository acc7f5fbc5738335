"""One JSON object per line, for the app and for the server, to one destination.

Fields: timestamp (RFC 3339 UTC, `Z`), level, logger, message, service, variant, trace_id and
span_id when a sampled span is active, then the event's own fields (`extra=`). JSON escapes
control characters, so a newline in user input stays inside its string and cannot forge a line.

The destination is the file when MARKETPLACE_LOG_FILE is set (compose and the native stack:
Promtail and the launcher read the file), stdout otherwise; writing the same line to both cost
a second format and a second write for a copy nobody reads. In the serving process
(`configure(..., background=True)`) a record is formatted once, in the request thread where its
span is current (python-json-logger's orjson formatter), and queued; one writer thread
(the standard library's QueueListener) writes whatever is queued in one `write()` and `stop()`
writes the rest at exit. `MARKETPLACE_INSTRUMENTATION=stock` keeps the old setup as the
benchmark's baseline: the standard library's json, stdout and the file, written under the
handler lock by the request threads.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import queue
import sys
import threading
import time
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter
from pythonjsonlogger.orjson import OrjsonFormatter

from .settings import Settings
from .tracing import current_ids

SERVICE = "marketplace"
MAX_BATCH_LINES = 512  # a bound on one write(); the queue is drained in such batches
# After a write the writer sleeps this long, so that the next lines find it asleep rather than
# waiting: a waiting writer is woken (and takes the GIL) for every line a request queues.
WRITE_INTERVAL_SECONDS = 0.05


def rfc3339(created: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
        + f".{int(created * 1000) % 1000:03d}Z"
    )


class _ContractFields:
    """The contract's fields first, in their documented order, for either JSON encoder."""

    def __init__(self, variant: str, **kwargs):
        super().__init__(**kwargs)
        self.static = {"service": SERVICE, "variant": variant}
        self._second = (-1, "")  # (whole second, its text): strftime once a second, not a line

    def _timestamp(self, created: float) -> str:
        second = int(created)
        cached = self._second
        if cached[0] != second:
            cached = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
            self._second = cached
        return f"{cached[1]}.{int(created * 1000) % 1000:03d}Z"

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        log_data["timestamp"] = self._timestamp(record.created)
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        # here for its place in the order: python-json-logger's add_fields writes the value again
        log_data["message"] = record.message
        log_data.update(self.static)
        ids = current_ids()
        if ids:
            log_data["trace_id"], log_data["span_id"] = ids
        super().add_fields(log_data, record, message_dict)


class Formatter(_ContractFields, OrjsonFormatter):
    """The shipped formatter: orjson, UTF-8 as is (like `ensure_ascii=False`)."""


class StockFormatter(_ContractFields, JsonFormatter):
    """The standard library's json, as before: the benchmark's stock profile."""

    def __init__(self, variant: str):
        super().__init__(variant, json_ensure_ascii=False)


def formatter(settings: Settings) -> logging.Formatter:
    return (StockFormatter if settings.instrumentation == "stock" else Formatter)(settings.variant)


_OURS = "_marketplace_handler"


def handlers(settings: Settings, stream: TextIO | None = None) -> list[logging.Handler]:
    """Synchronous handlers for stdout (or `stream`) and, when set, the file, sharing one
    formatter: the stock setup, and the building block of the others."""
    result: list[logging.Handler] = [logging.StreamHandler(stream or sys.stdout)]
    if settings.log_file:
        # Watched: a rotated file is reopened instead of written after deletion.
        result.append(logging.handlers.WatchedFileHandler(settings.log_file, encoding="utf-8"))
    shared = formatter(settings)
    for handler in result:
        handler.setFormatter(shared)
        setattr(handler, _OURS, True)
    return result


def destination(settings: Settings, stream: TextIO | None = None) -> logging.Handler:
    """The one handler of a deployment: the file when configured, else stdout (or `stream`)."""
    if settings.log_file:
        handler: logging.Handler = logging.handlers.WatchedFileHandler(
            settings.log_file, encoding="utf-8"
        )
    else:
        handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter(settings))
    setattr(handler, _OURS, True)
    return handler


class LineQueueHandler(logging.handlers.QueueHandler):
    """Queues the formatted line itself: formatted once, here, while the record's span is
    current; no record copy crosses the queue."""

    def handle(self, record: logging.LogRecord) -> logging.LogRecord | bool:
        # Handler.handle formats under the handler's lock, which guards nothing here (the queue
        # is thread-safe, a line's formatting touches only its record): a thread that loses
        # the GIL mid-format queues the other request threads on that lock (docs/service.md).
        rv = self.filter(record)
        if isinstance(rv, logging.LogRecord):  # 3.12+: a filter may return a new record
            record = rv
        if rv:
            self.emit(record)
        return rv

    def prepare(self, record: logging.LogRecord) -> str:
        return self.format(record) + "\n"


class BatchWriter(logging.handlers.QueueListener):
    """Writes the queued lines to the destination handler's stream, all that is queued (up to
    MAX_BATCH_LINES) in one write, at most every WRITE_INTERVAL_SECONDS while lines keep coming.
    The queue is unbounded: the writer drains it far faster than requests fill it."""

    def __init__(self, line_queue: queue.SimpleQueue, target: logging.Handler):
        super().__init__(line_queue)
        self.target = target
        self.pid = os.getpid()
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()  # no more pauses: write the rest at once
        super().stop()

    def handle(self, line: str) -> None:
        lines = [line]
        stop = False
        while len(lines) < MAX_BATCH_LINES:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if item is self._sentinel:
                stop = True
                break
            lines.append(item)
        self.write("".join(lines))
        if stop:  # for the monitor loop, which ends on it
            self.queue.put_nowait(self._sentinel)
        elif len(lines) < MAX_BATCH_LINES:
            self._stopping.wait(WRITE_INTERVAL_SECONDS)

    def write(self, text: str) -> None:
        target = self.target
        try:
            if isinstance(target, logging.handlers.WatchedFileHandler):
                target.reopenIfNeeded()
            target.stream.write(text)
            target.stream.flush()
        except Exception:  # a full disk must not end the writer thread: say it on stderr
            sys.stderr.write(f"marketplace: log write failed: {sys.exc_info()[1]!r}\n")


_writer_lock = threading.Lock()
_writer: BatchWriter | None = None


def stop() -> None:
    """Write every queued line and stop the writer thread; a no-op without one. A writer
    inherited across fork() has no thread in this process and is dropped unwritten: the parent
    writes its own lines."""
    global _writer
    with _writer_lock:
        writer, _writer = _writer, None
    if writer is None:
        return
    if writer.pid == os.getpid():
        writer.stop()
        writer.target.close()


def configure(settings: Settings, stream: TextIO | None = None, background: bool = False) -> None:
    """Install the JSON handler(s) on the root logger and the per-logger levels. Idempotent.

    `background=True` in the serving process: lines go through the queue to the writer thread.
    """
    global _writer
    # The logging HOWTO's "Optimization" switches for record fields no line here carries:
    # no caller lookup (a stack walk per record), no thread, process or multiprocessing names.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(handler)
        if not isinstance(handler, LineQueueHandler):
            handler.close()
    stop()
    if settings.instrumentation == "stock":
        installed = handlers(settings, stream)
    elif background:
        target = destination(settings, stream)
        line_queue: queue.SimpleQueue = queue.SimpleQueue()
        queued = LineQueueHandler(line_queue)
        queued.setFormatter(target.formatter)
        setattr(queued, _OURS, True)
        writer = BatchWriter(line_queue, target)
        writer.start()
        with _writer_lock:
            _writer = writer
        installed = [queued]
    else:
        installed = [destination(settings, stream)]
    for handler in installed:
        root.addHandler(handler)
    root.setLevel(settings.log_level)
    apply_levels(settings)


def apply_levels(settings: Settings) -> None:
    for name, level in settings.logger_levels:
        logging.getLogger(name).setLevel(level)


def route_gunicorn_logs(settings: Settings) -> None:
    """Send gunicorn's own loggers through the root's JSON handlers instead of its text ones."""
    for name in ("gunicorn.error", "gunicorn.access"):
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.propagate = True
    apply_levels(settings)


def granian_log_config() -> dict:
    """granian's `log_dictconfig`: its loggers (`_granian`, `granian.access`) without handlers
    of their own, so their records reach the root's JSON handler; the access log stays off."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {},
        "loggers": {
            "_granian": {"handlers": [], "propagate": True},
            "granian.access": {"handlers": [], "propagate": True},
        },
    }
