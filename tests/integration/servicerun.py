"""One marketplace process started by a test, with the environment the test chooses (the native
stack always turns tracing export off), plus a small OTLP/gRPC trace sink for it to export to.

The process runs in a session of its own and is stopped by its PID (its process group); memory,
file descriptors and threads are read from /proc for the whole process tree, whatever server
(one worker process or several) the service runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from pathlib import Path

import grpc
from livestack import free_ports, session, wait_for
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

from ops.soak.probe import proc_stats, samples

REPO_ROOT = Path(__file__).resolve().parents[2]


class ServiceProcess:
    """`python -m marketplace` (v2 unless `env` says otherwise) on a free loopback port."""

    def __init__(self, workdir: Path, name: str, env: dict[str, str]) -> None:
        self.name = name
        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_file = workdir / f"{name}.log"
        self.json_log_file = workdir / f"{name}.json.log"
        self.env = {
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "MARKETPLACE_VARIANT": "v2",
            "MARKETPLACE_HOST": "127.0.0.1",
            "MARKETPLACE_PORT": str(self.port),
            "MARKETPLACE_LOG_FILE": str(self.json_log_file),
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_LOGS_EXPORTER": "none",
            **env,
        }
        self.proc: subprocess.Popen | None = None
        self.http = session()

    def start(self, timeout: float = 60.0) -> ServiceProcess:
        with self.log_file.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "marketplace"],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=REPO_ROOT,
                start_new_session=True,
            )

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log_file.read_text()[-2000:]}")
            return self.http.get(self.url + "/readyz", timeout=2).status_code == 200

        wait_for(ready, timeout, f"{self.name} /readyz", interval=0.2)
        return self

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)  # its own group: the PID it was started as
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.http.close()

    def stats(self) -> dict[str, int]:
        return proc_stats(self.proc.pid)

    def metric(self, name: str) -> float | None:
        """The value of an unlabelled sample on /metrics, None if the service has no such line."""
        # A fresh connection each time: a kept-alive one may be closed by the server meanwhile.
        with session() as http:
            text = http.get(self.url + "/metrics", timeout=5).text
        return samples(text).get(name)

    def log_records(self) -> list[dict]:
        records = []
        with suppress(OSError):
            for line in self.json_log_file.read_text(encoding="utf-8").splitlines():
                with suppress(ValueError):
                    record = json.loads(line)
                    if isinstance(record, dict):
                        records.append(record)
        return records


class _TraceService(trace_service_pb2_grpc.TraceServiceServicer):
    def __init__(self) -> None:
        self.spans = 0
        self.exports = 0
        self.lock = threading.Lock()

    def Export(self, request, context):  # the name the gRPC service defines
        count = sum(len(scope.spans) for rs in request.resource_spans for scope in rs.scope_spans)
        with self.lock:
            self.spans += count
            self.exports += 1
        return trace_service_pb2.ExportTraceServiceResponse()


class OtlpSink:
    """An OTLP/gRPC endpoint on 127.0.0.1 that accepts every export and counts its spans."""

    def __init__(self) -> None:
        self.service = _TraceService()
        self.server = grpc.server(ThreadPoolExecutor(2, thread_name_prefix="otlp-sink"))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(self.service, self.server)
        self.port = self.server.add_insecure_port("127.0.0.1:0")
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def start(self) -> OtlpSink:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop(grace=1).wait(5)

    @property
    def spans(self) -> int:
        with self.service.lock:
            return self.service.spans


def otlp_env(endpoint: str) -> dict[str, str]:
    """Tracing as compose configures the service (gRPC, plaintext), to `endpoint`."""
    return {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        "OTEL_EXPORTER_OTLP_INSECURE": "true",
    }


def percentile(samples: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def paced_pairs(
    targets: list[ServiceProcess], paths: list[str], seconds: float, rate: float, on_tick=None
) -> dict[str, dict]:
    """Send the same request to every target, one after another, `rate` times a second for
    `seconds`, from a few threads: each target sees the same load at the same moments, so the
    machine's noise falls on all of them alike. Returns per target its latencies and statuses."""
    threads = 4
    results = {t.name: {"latencies": [], "statuses": {}, "failures": 0} for t in targets}
    lock = threading.Lock()
    start = time.monotonic()
    total = int(seconds * rate)

    def worker(index: int) -> None:
        with session() as http:
            for n in range(index, total, threads):
                delay = start + n / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                path = paths[n % len(paths)]
                order = targets if n % 2 else targets[::-1]
                for target in order:
                    began = time.perf_counter()
                    try:
                        status = http.get(target.url + path, timeout=10).status_code
                    except OSError:
                        status = None
                    took = time.perf_counter() - began
                    with lock:
                        entry = results[target.name]
                        if status is None:
                            entry["failures"] += 1
                        else:
                            entry["latencies"].append(took)
                            entry["statuses"][status] = entry["statuses"].get(status, 0) + 1

    ticker_stop = threading.Event()

    def ticker() -> None:
        while on_tick and not ticker_stop.wait(5):
            on_tick(time.monotonic() - start)

    tick_thread = threading.Thread(target=ticker, daemon=True)
    tick_thread.start()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(worker, range(threads)))
    ticker_stop.set()
    tick_thread.join(10)
    return results
