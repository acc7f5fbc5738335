"""Log lines value by value: the exact timestamp of a known instant, UTF-8 text as written, the
message field, and configure() replacing only its own handlers however often it runs."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import time

import pytest
from marketplace import logs

pytestmark = pytest.mark.unit


def line_of(settings, record: logging.LogRecord) -> tuple[str, dict]:
    stream = io.StringIO()
    (handler,) = logs.handlers(settings, stream)
    handler.emit(record)
    text = stream.getvalue()
    return text, json.loads(text)


def record(message: str = "hello", created: float | None = None, **fields) -> logging.LogRecord:
    made = logging.LogRecord("marketplace.search", logging.INFO, __file__, 1, message, None, None)
    if created is not None:
        made.created = created
    made.__dict__.update(fields)
    return made


@pytest.mark.parametrize(
    ("created", "stamp"),
    [
        (0.0, "1970-01-01T00:00:00.000Z"),
        (1_700_000_000.5, "2023-11-14T22:13:20.500Z"),
        (1_780_000_000.999, "2026-05-28T20:26:40.999Z"),
        (1_780_000_001.007, "2026-05-28T20:26:41.007Z"),
    ],
)
def test_the_timestamp_is_the_records_instant_in_utc_to_the_millisecond(settings, created, stamp):
    _, line = line_of(settings, record(created=created))
    assert line["timestamp"] == stamp
    assert logs.rfc3339(created) == stamp


@pytest.mark.parametrize("instrumentation", ["lean", "stock"])
def test_non_ascii_text_is_written_as_utf8_not_escaped(settings, instrumentation):
    settings = dataclasses.replace(settings, instrumentation=instrumentation)
    text, line = line_of(settings, record("Suche nach café", query="café ünïcode"))
    assert "café ünïcode" in text and "\\u00e9" not in text
    assert line["message"] == "Suche nach café" and line["query"] == "café ünïcode"


def test_the_message_is_the_formatted_message(settings):
    made = logging.LogRecord(
        "marketplace.search", logging.INFO, __file__, 1, "found %d of %s", (3, "web"), None
    )
    _, line = line_of(settings, made)
    assert line["message"] == "found 3 of web"


@pytest.fixture
def root_state():
    """The root logger's handlers and level, put back after the test."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    names = ("gunicorn.error", "gunicorn.access")
    gunicorn = {
        n: (list(logging.getLogger(n).handlers), logging.getLogger(n).propagate) for n in names
    }
    yield root
    logs.stop()
    for handler in [h for h in root.handlers if h not in saved[0]]:
        root.removeHandler(handler)
    for handler in saved[0]:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(saved[1])
    for name, (handlers, propagate) in gunicorn.items():
        logger = logging.getLogger(name)
        logger.handlers[:] = handlers
        logger.propagate = propagate


def test_configure_twice_leaves_one_handler_of_its_own_and_keeps_foreign_ones(settings, root_state):
    foreign = logging.NullHandler()
    root_state.addHandler(foreign)
    first, second = io.StringIO(), io.StringIO()
    logs.configure(settings, first)
    logs.configure(settings, second)
    assert foreign in root_state.handlers
    ours = [h for h in root_state.handlers if h is not foreign and h not in _pytest_handlers()]
    assert len(ours) == 1
    logging.getLogger("marketplace.test.configure").warning("once")
    assert first.getvalue() == ""  # the replaced handler no longer writes
    (line,) = [json.loads(text) for text in second.getvalue().splitlines()]
    assert line["message"] == "once"


def _pytest_handlers() -> list[logging.Handler]:
    """pytest's own capture handlers on the root logger, which are not the service's."""
    return [h for h in logging.getLogger().handlers if type(h).__module__.startswith("_pytest")]


def test_configured_records_skip_the_caller_thread_and_process_lookups(settings, root_state):
    logs.configure(settings, io.StringIO())
    made = logging.getLogger("marketplace.test.fields").makeRecord(
        "marketplace.test.fields", logging.INFO, "(unknown file)", 0, "m", None, None
    )
    assert made.threadName is None and made.processName is None and made.process is None
    assert logging._srcfile is None  # no stack walk to find the caller of every record


def test_gunicorn_loggers_lose_their_own_handlers_and_propagate(settings, root_state):
    for name in ("gunicorn.error", "gunicorn.access"):
        logger = logging.getLogger(name)
        logger.addHandler(logging.NullHandler())
        logger.propagate = False
    logs.route_gunicorn_logs(settings)
    for name in ("gunicorn.error", "gunicorn.access"):
        logger = logging.getLogger(name)
        assert logger.handlers == [] and logger.propagate is True, name


def _lines(path, count: int, timeout: float = 10.0) -> list[dict]:
    """The file's lines once it holds `count` of them, polled for at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        lines = [json.loads(line) for line in text.splitlines()]
        if len(lines) >= count or time.monotonic() >= deadline:
            return lines
        time.sleep(0.02)


def test_the_background_writer_keeps_writing_line_after_line(settings, tmp_path, root_state):
    """Each line reaches the file while the service runs, not only the first batch or at exit."""
    path = tmp_path / "service.log"
    logs.configure(dataclasses.replace(settings, log_file=path), background=True)
    logger = logging.getLogger("marketplace.test.live")
    for n in range(3):
        logger.warning("line %d", n)
        assert [line["message"] for line in _lines(path, n + 1)] == [
            f"line {i}" for i in range(n + 1)
        ]


def test_the_background_writer_writes_to_the_given_stream_without_a_file(settings, root_state):
    stream = io.StringIO()
    logs.configure(settings, stream, background=True)
    logging.getLogger("marketplace.test.stream").warning("to the stream")
    logs.stop()
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["message"] == "to the stream" and line["service"] == "marketplace"
