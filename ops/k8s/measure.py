"""`python -m ops.k8s.measure`: the per-replica figures docs/kubernetes.md sizes the cluster from.

Starts each variant as production runs it (`python -m marketplace`, gunicorn) on a free loopback
port, with the console span exporter instead of OTLP so spans can be counted without a Collector,
drives it with the load generator at the compose rate (`LOADGEN_RATE` in .env), then reads:
series on /metrics, log lines and bytes per request (the JSON log file), spans per request.
Samples per second follow from the scrape interval of prometheus/prometheus.yml.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import yaml

from ops.stack import topology

# Series Prometheus adds to every target itself (up, scrape_duration_seconds,
# scrape_samples_scraped, scrape_samples_post_metric_relabeling, scrape_series_added).
SYNTHETIC_SERIES_PER_TARGET = 5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape_interval_seconds() -> float:
    config = yaml.safe_load((topology.REPO_ROOT / "prometheus" / "prometheus.yml").read_text())
    text = config["global"]["scrape_interval"]
    return float(text.rstrip("s"))


def count_series(text: str) -> int:
    return sum(1 for line in text.splitlines() if line and not line.startswith("#"))


def count_spans(text: str) -> tuple[int, int]:
    """Spans and distinct traces in ConsoleSpanExporter output (concatenated JSON objects)."""
    decoder = json.JSONDecoder()
    spans, traces, pos = 0, set(), 0
    while True:
        start = text.find("{", pos)
        if start < 0:
            return spans, len(traces)
        span, pos = decoder.raw_decode(text, start)
        spans += 1
        traces.add(span["context"]["trace_id"])


def measure(variant: str, requests: int, rate: float, workdir: Path) -> dict:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_file = workdir / f"{variant}.log"
    env = {
        **os.environ,
        "MARKETPLACE_VARIANT": variant,
        "MARKETPLACE_HOST": "127.0.0.1",
        "MARKETPLACE_PORT": str(port),
        "MARKETPLACE_LOG_FILE": str(log_file),
        "OTEL_SERVICE_NAME": "marketplace",
        "OTEL_TRACES_EXPORTER": "console",
    }
    spans_out = (workdir / f"{variant}.spans").open("w")
    server = subprocess.Popen(
        [sys.executable, "-m", "marketplace"], env=env, stdout=spans_out, stderr=subprocess.DEVNULL
    )
    try:
        subprocess.run(
            [
                sys.executable,
                "-m",
                "marketplace.loadgen",
                "--target",
                url,
                "--rate",
                str(rate),
                "--count",
                str(requests),
                "--seed",
                "1",
                "--progress",
                "3600",
            ],
            check=True,
            timeout=requests / rate + 120,
            stdout=subprocess.DEVNULL,
        )
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:  # noqa: S310 - http://127.0.0.1
            metrics = response.read().decode()
        # Past the batch span processor's 5 s schedule, so every span of the run is written.
        time.sleep(6)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)
        spans_out.close()
    lines = log_file.read_bytes().splitlines()
    spans, traces = count_spans((workdir / f"{variant}.spans").read_text())
    series = count_series(metrics) + SYNTHETIC_SERIES_PER_TARGET
    interval = scrape_interval_seconds()
    return {
        "variant": variant,
        "requests": requests,
        "series_per_instance": series,
        "scrape_interval_s": interval,
        "samples_per_second": round(series / interval, 2),
        "log_lines_per_request": round(len(lines) / requests, 3),
        "log_bytes_per_request": round(sum(len(line) + 1 for line in lines) / requests, 1),
        "spans_per_request": round(spans / requests, 3),
        "traces": traces,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.k8s.measure", description=__doc__)
    parser.add_argument("--requests", type=int, default=300, help="requests per variant")
    args = parser.parse_args(argv)
    rate = float(topology.load_env()["LOADGEN_RATE"])
    with tempfile.TemporaryDirectory(prefix="k8s-measure-") as tmp:
        results = [measure(v, args.requests, rate, Path(tmp)) for v in ("v1", "v2")]
    print(json.dumps({"load_average": os.getloadavg(), "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
