"""Logs: one JSON object per line with the contract's fields; user text cannot forge a line."""

import dataclasses
import io
import json
import logging
import queue
import re

import pytest
from marketplace import logs

pytestmark = pytest.mark.unit

RFC3339_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def captured(log_stream):
    """JSON log lines from the root logger while the test runs."""
    stream = log_stream

    def lines():
        return [json.loads(line) for line in stream.getvalue().splitlines()]

    yield lines


def test_search_log_line_has_the_contract_fields(client, captured, span_exporter):
    client.get("/api/v1/search?q=http&limit=5")
    (line,) = [r for r in captured() if r["message"] == "Search completed"]
    assert RFC3339_UTC.match(line["timestamp"])
    assert line["level"] == "INFO" and line["logger"] == "marketplace.search"
    assert line["service"] == "marketplace" and line["variant"] == "v2"
    assert line["query"] == "http" and line["limit"] == 5 and line["result_count"] == 5
    assert line["cache_hit"] is False and isinstance(line["duration_ms"], float)
    (span,) = [s for s in span_exporter.get_finished_spans() if s.name == "marketplace.search"]
    assert line["trace_id"] == format(span.context.trace_id, "032x")
    assert line["span_id"] == format(span.context.span_id, "016x")
    assert list(line)[:4] == ["timestamp", "level", "logger", "message"]


def test_lookup_and_install_lines(client, captured):
    client.get("/api/v1/packages/webframe")
    client.post("/api/v1/packages/chain-a/install")
    by_message = {r["message"]: r for r in captured()}
    assert by_message["Lookup completed"]["package_id"] == "webframe"
    assert by_message["Install planned"]["result_count"] == 3


def test_no_trace_fields_without_a_span(settings):
    stream = io.StringIO()
    (handler,) = logs.handlers(settings, stream)
    logger = logging.getLogger("marketplace.test.nospan")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("outside any request")
    finally:
        logger.removeHandler(handler)
    line = json.loads(stream.getvalue())
    assert "trace_id" not in line and "span_id" not in line and line["level"] == "WARNING"


@pytest.mark.parametrize(
    "evil",
    [
        'x"}\n{"level": "ERROR", "message": "forged"}',
        'x\r\n{"level":"ERROR"}',
        "x\u2028y\u0085z",
    ],
)
def test_user_text_cannot_forge_a_line(settings, evil):
    stream = io.StringIO()
    (handler,) = logs.handlers(settings, stream)
    record = logging.LogRecord("marketplace.search", logging.INFO, __file__, 1, evil, None, None)
    record.query = evil
    handler.emit(record)
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n") and "\r" not in text
    line = json.loads(text)
    assert line["query"] == evil and line["message"] == evil and line["level"] == "INFO"


def test_newline_in_a_request_stays_in_one_line(client, captured):
    client.get("/api/v1/packages/abc%0A%7B%22level%22%3A%22ERROR%22%7D")
    records = captured()
    assert all(r["level"] != "ERROR" for r in records)
    (line,) = [r for r in records if r["message"] == "Lookup completed"]
    assert line["package_id"] == 'abc\n{"level":"ERROR"}'


def test_unhandled_error_logs_one_line_with_traceback(app, client, captured, monkeypatch):
    store = app.extensions["marketplace"].store
    monkeypatch.setattr(store, "lookup", lambda *a: 1 / 0)
    client.get("/api/v1/packages/webframe")
    (line,) = [r for r in captured() if r["message"] == "Unhandled error"]
    assert line["level"] == "ERROR" and "ZeroDivisionError" in line["exc_info"]


def test_per_logger_levels(settings):
    from marketplace.settings import Settings

    parsed = Settings.from_env({"MARKETPLACE_LOG_LEVEL": "warning,marketplace.search=debug"})
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.level, list(root.handlers), logging.getLogger("marketplace.search").level)
    try:
        logs.configure(dataclasses.replace(settings, **_levels(parsed)), stream)
        logging.getLogger("marketplace.search").debug("search detail")
        logging.getLogger("marketplace.lookup").info("hidden")
        logging.getLogger("marketplace.lookup").warning("shown")
    finally:
        for handler in [h for h in root.handlers if h not in saved[1]]:
            root.removeHandler(handler)
        root.setLevel(saved[0])
        logging.getLogger("marketplace.search").setLevel(saved[2])
    messages = [json.loads(line)["message"] for line in stream.getvalue().splitlines()]
    assert messages == ["search detail", "shown"]


def _levels(parsed):
    return {"log_level": parsed.log_level, "logger_levels": parsed.logger_levels}


def test_log_file_gets_the_same_lines(settings, tmp_path):
    path = tmp_path / "marketplace.log"
    stream = io.StringIO()
    handlers = logs.handlers(dataclasses.replace(settings, log_file=path), stream)
    logger = logging.getLogger("marketplace.test.file")
    logger.propagate = False
    for handler in handlers:
        logger.addHandler(handler)
    try:
        logger.error("to both", extra={"error_type": "internal"})
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
    assert json.loads(path.read_text()) == json.loads(stream.getvalue())


def test_gunicorn_loggers_go_through_the_json_formatter(settings):
    from gunicorn.config import Config
    from marketplace.__main__ import JsonLogger

    stream = io.StringIO()
    root = logging.getLogger()
    saved = list(root.handlers)
    logs.configure(settings, stream)
    try:
        cfg = Config()
        cfg.set("errorlog", "-")
        JsonLogger(cfg).error_log.info("Booting worker with pid: %s", 42)
    finally:
        for handler in [h for h in root.handlers if h not in saved]:
            root.removeHandler(handler)
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["logger"] == "gunicorn.error" and line["message"] == "Booting worker with pid: 42"
    assert line["service"] == "marketplace"


def test_failed_search_logs_a_fixed_error_never_the_exception_text(client, captured, auth):
    client.put("/admin/faults", headers=auth, json={"error_rate": 1})
    client.get("/api/v1/search?q=web")
    (line,) = [r for r in captured() if r["message"] == "Search failed"]
    assert line["level"] == "ERROR" and line["error_type"] == "injected"
    assert line["error"] == "injected fault" and line["query"] == "web"
    assert "trace_id" in line


def test_a_failed_log_write_says_why_on_stderr_and_the_writer_goes_on(capsys):
    class FullDisk(io.StringIO):
        full = True

        def write(self, text):
            if self.full:
                raise OSError(28, "No space left on device")
            return super().write(text)

    stream = FullDisk()
    writer = logs.BatchWriter(queue.SimpleQueue(), logging.StreamHandler(stream))
    writer.write("lost\n")
    assert capsys.readouterr().err == (
        "marketplace: log write failed: OSError(28, 'No space left on device')\n"
    )
    stream.full = False
    writer.write("kept\n")
    assert stream.getvalue() == "kept\n"


def test_reconfiguring_closes_the_handler_it_replaces(settings, tmp_path, root_restored):
    logs.configure(dataclasses.replace(settings, log_file=tmp_path / "first.log"))
    (first,) = [h for h in root_restored.handlers if getattr(h, "_marketplace_handler", False)]
    assert first.stream is not None
    logs.configure(settings, io.StringIO())
    assert first not in root_restored.handlers
    assert first.stream is None  # closed: the file is not held open by a handler nobody uses
