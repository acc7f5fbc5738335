"""A local OTLP sink for the benchmark: answers every export with success, counts the spans.

    python -m ops.bench.sink --protocol http/protobuf|grpc --port N

Prints `SINK {"requests": n, "spans": n}` on SIGTERM. It decodes each request (so the count is
real) and does nothing else: the service's side of the export (encoding, the POST, waiting for
the answer) is what the benchmark prices, against a live endpoint rather than a closed port.
`Sink` runs it as a second process, stopped by its PID.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

MARKER = "SINK "


class Counts:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests = 0
        self.spans = 0

    def add(self, request) -> None:
        spans = sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
        with self.lock:
            self.requests += 1
            self.spans += spans

    def line(self) -> str:
        return MARKER + json.dumps({"requests": self.requests, "spans": self.spans})


def serve_http(port: int, counts: Counts):
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )

    body = ExportTraceServiceResponse().SerializeToString()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            counts.add(ExportTraceServiceRequest.FromString(data))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server.shutdown


def serve_grpc(port: int, counts: Counts):
    from concurrent import futures

    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2, trace_service_pb2_grpc

    class Service(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request, context):
            counts.add(request)
            return trace_service_pb2.ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    return lambda: server.stop(1).wait(5)


class Sink:
    """`with Sink(protocol, port, cwd) as sink:` ... `sink.counts` once the block has ended."""

    def __init__(self, protocol: str, port: int, cwd: Path):
        self.protocol, self.port, self.cwd = protocol, port, cwd
        self.endpoint = f"http://127.0.0.1:{port}"
        self.counts: dict | None = None
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> Sink:
        port = str(self.port)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ops.bench.sink", "--protocol", self.protocol, "--port", port],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=self.cwd,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if line.startswith("SINK_READY") or not line:
                break
        if self.process.poll() is not None:
            raise RuntimeError(f"the OTLP sink exited: {self.process.stdout.read()}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        process = self.process
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            out, _ = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            out, _ = process.communicate(timeout=5)
        for line in out.splitlines():
            if line.startswith(MARKER):
                self.counts = json.loads(line[len(MARKER) :])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.sink")
    parser.add_argument("--protocol", choices=("http/protobuf", "grpc"), default="http/protobuf")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    counts = Counts()
    stop = (serve_grpc if args.protocol == "grpc" else serve_http)(args.port, counts)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    print("SINK_READY", flush=True)
    done.wait()
    stop()
    print(counts.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
