"""The production server loses nothing at a graceful stop: every request's log line is in the
file and every span reached the OTLP endpoint after SIGTERM, on granian (shipped) and gunicorn."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from ops.bench.server import free_port
from ops.bench.sink import Sink

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
REQUESTS = 300
QUERIES = 7  # distinct search terms: each misses the cache once, then hits


def wait_ready(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, f"the service exited with {process.returncode}"
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} not ready in {seconds:g} s")


@pytest.mark.parametrize("server", ["granian", "gunicorn"])
@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_sigterm_writes_every_log_line_and_exports_every_span(tmp_path, server, protocol):
    port, log_file = free_port(), tmp_path / "marketplace.json.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MARKETPLACE_", "OTEL_"))}
    with Sink(protocol, free_port(), REPO) as sink:
        env.update(
            MARKETPLACE_PORT=str(port),
            MARKETPLACE_SERVER=server,
            MARKETPLACE_LOG_FILE=str(log_file),
            OTEL_EXPORTER_OTLP_ENDPOINT=sink.endpoint,
            OTEL_EXPORTER_OTLP_PROTOCOL=protocol,
            # nothing leaves before the stop: the batches still queued must go at shutdown
            OTEL_BSP_SCHEDULE_DELAY="60000",
            OTEL_BSP_MAX_EXPORT_BATCH_SIZE="2048",
        )
        stdout = (tmp_path / "stdout.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "marketplace"], env=env, stdout=stdout, stderr=subprocess.STDOUT
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_ready(base + "/readyz", process)
            with requests.Session() as session:
                codes = [
                    session.get(f"{base}/api/v1/search?q=web{n % QUERIES}", timeout=10).status_code
                    for n in range(REQUESTS)
                ]
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(30)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(10)
            stdout.close()
    lines = [json.loads(line) for line in log_file.read_text(encoding="utf-8").splitlines()]
    completed = [line for line in lines if line["message"] == "Search completed"]
    print(f"{server} {protocol}: {len(completed)} log lines, {sink.counts} at the sink")
    assert codes == [200] * REQUESTS and returncode == 0
    assert len(completed) == REQUESTS
    assert all(line["trace_id"] and line["service"] == "marketplace" for line in completed)
    # a server and a search span per request, and a cache span per miss (the first search of each
    # query): every request traced, every span delivered
    misses = [line for line in completed if line["cache_hit"] is False]
    assert len(misses) == QUERIES
    assert sink.counts["spans"] == 2 * REQUESTS + len(misses)
    assert (tmp_path / "stdout.log").read_text().strip() == "", "one destination: the file"
