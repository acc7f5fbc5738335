"""What the soak watches of a running service: its process tree (/proc) and its /metrics."""

from __future__ import annotations

import os
from contextlib import suppress
from pathlib import Path

import requests

REQUESTS = "marketplace_http_requests_total"


def tree(pid: int) -> list[int]:
    """`pid` and its living descendants (a server and the worker processes it forked)."""
    found, todo = [], [pid]
    for _ in range(1000):  # bounded: a service's tree is a handful of processes
        if not todo:
            break
        current = todo.pop()
        found.append(current)
        with suppress(OSError):
            children = Path(f"/proc/{current}/task/{current}/children").read_text()
            todo += [int(child) for child in children.split()]
    return found


def proc_stats(pid: int) -> dict[str, int]:
    """Resident bytes, open file descriptors and threads, summed over the process tree."""
    rss = fds = threads = 0
    for member in tree(pid):
        with suppress(OSError, KeyError, ValueError):
            status = Path(f"/proc/{member}/status").read_text()
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            rss += int(fields["VmRSS"].split()[0]) * 1024
            threads += int(fields["Threads"])
            fds += len(os.listdir(f"/proc/{member}/fd"))
    return {"rss_bytes": rss, "open_fds": fds, "threads": threads}


def samples(text: str) -> dict[str, float]:
    """Every sample line of a Prometheus text exposition: `name{labels}` -> value."""
    found = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        with suppress(ValueError):
            found[key] = float(value)
    return found


def answered(metrics: dict[str, float], server_errors_only: bool = False) -> float:
    """Requests answered so far (or only the 5xx), from the service's own request counter."""
    return sum(
        value
        for key, value in metrics.items()
        if key.startswith(REQUESTS + "{") and (not server_errors_only or 'code="5' in key)
    )


def snapshot(http: requests.Session, url: str, pid: int) -> dict[str, float]:
    metrics = samples(http.get(url + "/metrics", timeout=10).text)
    return {
        **proc_stats(pid),
        "series": len(metrics),
        "requests": answered(metrics),
        "server_errors": answered(metrics, server_errors_only=True),
    }
