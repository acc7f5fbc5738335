"""One JSON object per line, to stdout and optionally a file, for the app and for gunicorn.

Fields: timestamp (RFC 3339 UTC, `Z`), level, logger, message, service, variant, trace_id and
span_id when a span is active, then the event's own fields (`extra=`). JSON escapes control
characters, so a newline in user input stays inside its string and cannot forge a line.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
import time
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from .settings import Settings
from .tracing import current_ids

SERVICE = "marketplace"


def rfc3339(created: float) -> str:
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
        + f".{int(created * 1000) % 1000:03d}Z"
    )


class Formatter(JsonFormatter):
    def __init__(self, variant: str):
        super().__init__(json_ensure_ascii=False)
        self.static = {"service": SERVICE, "variant": variant}

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        log_data["timestamp"] = rfc3339(record.created)
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["message"] = record.message
        log_data.update(self.static)
        ids = current_ids()
        if ids:
            log_data["trace_id"], log_data["span_id"] = ids
        super().add_fields(log_data, record, message_dict)


_OURS = "_marketplace_handler"


def handlers(settings: Settings, stream: TextIO | None = None) -> list[logging.Handler]:
    formatter = Formatter(settings.variant)
    result: list[logging.Handler] = [logging.StreamHandler(stream or sys.stdout)]
    if settings.log_file:
        # Watched: a rotated file is reopened instead of written after deletion.
        result.append(logging.handlers.WatchedFileHandler(settings.log_file, encoding="utf-8"))
    for handler in result:
        handler.setFormatter(formatter)
        setattr(handler, _OURS, True)
    return result


def configure(settings: Settings, stream: TextIO | None = None) -> None:
    """Install the JSON handlers on the root logger and the per-logger levels. Idempotent."""
    # The logging HOWTO's "Optimization" switches for record fields no line here carries:
    # no caller lookup (a stack walk per record), no thread, process or multiprocessing names.
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(handler)
        handler.close()
    for handler in handlers(settings, stream):
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
