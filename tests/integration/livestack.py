"""Helpers for tests against a running native stack: Prometheus and sink clients, traffic, waits.

Every wait here is bounded in time and in iterations; every process belongs to a NativeStack that
stops it by PID.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import requests

from ops import rulefiles
from ops.polling import polls
from ops.stack import topology
from ops.stack.launcher import NativeStack
from tests.conftest import require_binary

RULES_DIR = topology.REPO_ROOT / "prometheus" / "rules"
DASHBOARDS_DIR = topology.REPO_ROOT / "grafana" / "dashboards"
# A popular term: repeated searches for it are cache hits on v2, i.e. fast, good requests.
FAST_QUERY = {"q": "http", "limit": "10"}

T = TypeVar("T")


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all sockets held open until every port is chosen)."""
    with ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


def session() -> requests.Session:
    http = requests.Session()
    http.trust_env = False  # loopback only; a proxy from the environment would intercept it
    return http


INTERVAL = "1s"  # scrape and rule evaluation in tests; rule windows and `for` stay as committed


def stack_on_free_ports(base: Path, **options: Any) -> NativeStack:
    """A NativeStack on free loopback ports that scrapes and evaluates every second."""
    require_binary("prometheus")
    require_binary("prometheus-alertmanager")
    names = topology.NATIVE_COMPONENTS
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    return NativeStack(
        base, ports, scrape_interval=INTERVAL, evaluation_interval=INTERVAL, **options
    )


@contextmanager
def running(stack: NativeStack) -> Iterator[LiveStack]:
    """The stack up for the block; then every process it started stopped by PID, and closed."""
    try:
        stack.up(timeout=120)
        yield LiveStack(stack)
    finally:
        stack.down()
        stack.close()


def wait_for(probe: Callable[[], T | None], timeout: float, what: str, interval: float = 1.0) -> T:
    """The first truthy result of `probe`, polled until `timeout` seconds have passed."""
    last_error: Exception | None = None
    for _ in polls(timeout, interval):
        try:
            result = probe()
            if result:
                return result
        except (requests.RequestException, KeyError, ValueError) as exc:
            last_error = exc
    suffix = f" (last error: {last_error})" if last_error else ""
    raise TimeoutError(f"{what}: not within {timeout:g}s{suffix}")


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


class LiveStack:
    """A started NativeStack plus the clients the tests use on it."""

    def __init__(self, stack: NativeStack) -> None:
        self.stack = stack
        self.http = session()

    @property
    def urls(self) -> dict[str, str]:
        return self.stack.urls

    # ---- Prometheus ------------------------------------------------------------------------
    def prom(self, path: str, **params: Any) -> Any:
        response = self.http.get(self.urls["prometheus"] + path, params=params, timeout=10)
        body = response.json()
        if body.get("status") != "success":
            raise ValueError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        params = {"query": expr} if at is None else {"query": expr, "time": at}
        return self.prom("/api/v1/query", **params)["result"]

    def value(self, expr: str, **labels: str) -> float | None:
        """The value of the one series of `expr` whose labels include `labels`, if any."""
        for series in self.query(expr):
            if all(series["metric"].get(k) == v for k, v in labels.items()):
                return float(series["value"][1])
        return None

    # ---- the alert sink --------------------------------------------------------------------
    def notifications(self, **filters: str) -> list[dict]:
        response = self.http.get(
            self.urls["alertsink"] + "/api/notifications", params=filters, timeout=5
        )
        response.raise_for_status()
        return response.json()

    # ---- traffic ---------------------------------------------------------------------------
    def searches(self, component: str, count: int, threads: int = 6) -> int:
        """Send `count` fast (cached) searches; return how many were answered 200."""
        url = self.urls[component] + "/api/v1/search"

        def worker(n: int) -> int:
            ok = 0
            with session() as http:
                for _ in range(n):
                    with suppress(requests.RequestException):
                        ok += http.get(url, params=FAST_QUERY, timeout=10).status_code == 200
            return ok

        shares = [count // threads + (i < count % threads) for i in range(threads)]
        with ThreadPoolExecutor(threads) as pool:
            return sum(pool.map(worker, shares))

    # ---- components ------------------------------------------------------------------------
    def set_faults(self, component: str, **faults: float | bool) -> dict:
        return self.stack.set_faults(component, **faults)

    def clear_faults(self, component: str) -> None:
        self.stack.clear_faults(component)

    def stop(self, component: str) -> bool:
        return self.stack.stop(component)

    def start(self, component: str, timeout: float = 60.0) -> float:
        """Start a stopped component and wait until it is ready; seconds it took."""
        began = time.monotonic()
        self.stack.start(component)
        return self.stack.wait_ready([component], timeout, began)[component]

    def restart(self, component: str, timeout: float = 60.0) -> float:
        return self.stack.restart(component, timeout)

    def wait_targets_up(self, timeout: float = 30.0) -> list[dict]:
        """Every active target's last scrape up: a restarted component is ready before
        Prometheus's next scrape of it says so, and a test that reads target health must not
        inherit the previous test's outage."""

        def all_up() -> list[dict] | None:
            targets = self.prom("/api/v1/targets", state="active")["activeTargets"]
            return targets if targets and all(t["health"] == "up" for t in targets) else None

        return wait_for(all_up, timeout, "every Prometheus target up", interval=0.5)


# ---- the committed rule and dashboard files ----------------------------------------------------
def rule_files() -> list[Path]:
    return rulefiles.rule_files(RULES_DIR)


def rules(kind: str) -> list[dict]:
    """Every rule of `kind` ("alert" or "record") in prometheus/rules/*.yml, in file order."""
    return [rule for _, _, rule in rulefiles.rules(rule_files()) if kind in rule]
