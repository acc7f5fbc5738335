"""The benchmark's own load client, for machines without wrk: same paths, same JSON line.

    python -m ops.bench.client --url http://127.0.0.1:8000 --paths paths.txt -c 16 -d 10

One thread per connection, each with one keep-alive `http.client` connection, walking the path
list from its own offset. It is slower than wrk (the GIL caps it), so its throughput figures
are a floor; the benchmark notes which client measured them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from ops.bench.wrk import MARKER


class Totals:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies_us: list[float] = []
        self.non_2xx = 0
        self.errors = 0
        self.bytes = 0


def worker(host, port, paths, offset, deadline, timeout, totals: Totals) -> None:
    latencies, non_2xx, errors, size = [], 0, 0, 0
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    i = offset
    while (started := time.perf_counter()) < deadline:
        path = paths[i % len(paths)]
        i += 1
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            size += len(response.read())
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
            continue
        latencies.append((time.perf_counter() - started) * 1e6)
        non_2xx += not 200 <= response.status < 300
    conn.close()
    with totals.lock:
        totals.latencies_us += latencies
        totals.non_2xx += non_2xx
        totals.errors += errors
        totals.bytes += size


def run(url: str, paths: list[str], connections: int, seconds: float, timeout: float) -> dict:
    split = urlsplit(url)
    totals = Totals()
    started = time.perf_counter()
    deadline = started + seconds
    threads = [
        threading.Thread(
            target=worker,
            args=(split.hostname, split.port, paths, n * 7919, deadline, timeout, totals),
        )
        for n in range(connections)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + timeout + 5)
    elapsed = time.perf_counter() - started
    ordered = sorted(totals.latencies_us) or [0.0]

    def pct(q: float) -> float:
        return ordered[max(0, min(len(ordered) - 1, round(len(ordered) * q / 100) - 1))]

    return {
        "requests": len(totals.latencies_us),
        "duration_us": int(elapsed * 1e6),
        "bytes": totals.bytes,
        "connect_errors": 0,
        "read_errors": totals.errors,
        "write_errors": 0,
        "non_2xx": totals.non_2xx,
        "timeouts": 0,
        "p50_us": pct(50),
        "p90_us": pct(90),
        "p99_us": pct(99),
        "mean_us": sum(ordered) / len(ordered),
        "max_us": ordered[-1],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.bench.client")
    parser.add_argument("--url", required=True)
    parser.add_argument("--paths", required=True, type=Path, help="file, one path a line")
    parser.add_argument("-c", "--connections", type=int, default=1)
    parser.add_argument("-d", "--seconds", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=10.0)
    args = parser.parse_args(argv)
    paths = [p for p in args.paths.read_text(encoding="utf-8").splitlines() if p]
    result = run(args.url, paths, args.connections, args.seconds, args.timeout)
    print(MARKER + json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
