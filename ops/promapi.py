"""HTTP and PromQL client shared by the checklist commands (ops.checks, ops.slo).

Addresses come from ops.stack.topology (`<NAME>_URL` in the environment, else the published port in
`.env`), so every command works unchanged against the native stack, the compose stack or a remote
one.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from rich.console import Console

from ops.stack import topology

# Components that only run under Docker: in native mode their checks are skipped, not failed.
DOCKER_ONLY = topology.DOCKER_ONLY

LOOPBACK = ("127.0.0.1", "localhost", "::1")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


class OpsError(RuntimeError):
    """A component did not answer, or answered something unusable."""


def parse_duration(text: str) -> float:
    """Seconds in a Prometheus-style duration (`30d`, `1h30m`, `90s`)."""
    text = text.strip()
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a duration: {text!r} (examples: 30d, 7d, 6h, 90m)")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def promql_duration(seconds: float) -> str:
    """A duration PromQL accepts in a range selector (whole seconds at least 1s)."""
    seconds = max(1, math.ceil(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def human_duration(seconds: float) -> str:
    """Short human form: `29d 23h`, `2h 5m`, `45s`."""
    seconds = round(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    return f"{secs}s"


@dataclass(frozen=True)
class Endpoints:
    """Base URLs of the components the commands talk to."""

    prometheus: str
    alertmanager: str
    alertsink: str
    grafana: str
    loki: str
    otlp: str
    otlp_explicit: bool  # True when OTEL_EXPORTER_OTLP_ENDPOINT named it

    @classmethod
    def from_env(cls) -> Endpoints:
        env = topology.load_env()
        otlp = os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        return cls(
            prometheus=topology.host_url("prometheus", env),
            alertmanager=topology.host_url("alertmanager", env),
            alertsink=topology.host_url("alertsink", env),
            grafana=topology.host_url("grafana", env),
            loki=topology.host_url("loki", env),
            otlp=otlp.rstrip("/") or topology.host_url("otel-collector", env),
            otlp_explicit=bool(otlp),
        )


def detect_mode(requested: str = "auto") -> str:
    """`native` or `docker`: as asked, else the stack that runs (as `make down/status` decide):
    native when the native launcher's PID files name live processes, else docker when a Docker
    engine answers, else native."""
    requested = (requested or "auto").lower()
    if requested in ("native", "docker"):
        return requested
    env_mode = os.environ.get("MODE", "auto").lower()
    if env_mode in ("native", "docker"):
        return env_mode
    from ops.stack.cli import auto_mode  # the same test `make up/down/status` apply

    return auto_mode()[0]


def http(method: str, url: str, *, timeout: float = 5.0, **kwargs: Any) -> requests.Response:
    """One request; connection problems become OpsError with a short, printable reason."""
    if urlsplit(url).hostname in LOOPBACK:
        # A proxy from the environment must not intercept the local stacks.
        kwargs.setdefault("proxies", {"http": None, "https": None})
    try:
        return requests.request(method, url, timeout=timeout, **kwargs)
    except requests.ConnectionError as exc:
        raise OpsError(f"{url}: connection refused or unreachable") from exc
    except requests.Timeout as exc:
        raise OpsError(f"{url}: no answer within {timeout:g}s") from exc
    except requests.RequestException as exc:
        raise OpsError(f"{url}: {exc.__class__.__name__}") from exc


def get_json(url: str, *, params: Any = None, timeout: float = 5.0) -> Any:
    response = http("GET", url, params=params, timeout=timeout)
    if response.status_code >= 400:
        raise OpsError(f"{url}: HTTP {response.status_code} {response.text[:200].strip()}")
    try:
        return response.json()
    except ValueError as exc:
        raise OpsError(f"{url}: answer is not JSON") from exc


class Prometheus:
    """The few Prometheus HTTP API calls the commands need."""

    def __init__(self, base_url: str, timeout: float = 10.0):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    def _api(self, path: str, params: Any = None) -> Any:
        body = get_json(f"{self.base_url}/api/v1/{path}", params=params, timeout=self.timeout)
        if body.get("status") != "success":
            raise OpsError(f"prometheus {path}: {body.get('error', 'status not success')}")
        return body["data"]

    def query(self, expr: str, at: float | None = None) -> list[dict]:
        params = {"query": expr}
        if at is not None:
            params["time"] = f"{at:.3f}"
        return self._api("query", params)["result"]

    def query_range(self, expr: str, start: float, end: float, step: float) -> list[dict]:
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        return self._api("query_range", params)["result"]

    def rules(self) -> list[dict]:
        return self._api("rules")["groups"]

    def targets(self) -> list[dict]:
        return self._api("targets", {"state": "active"})["activeTargets"]

    def target_metadata(self, match_target: str) -> list[dict]:
        """Metric families (HELP/TYPE) each matching target exposes, samples or not."""
        return self._api("targets/metadata", {"match_target": match_target})

    def evaluation_interval(self, default: float = 60.0) -> float:
        """Seconds between rule evaluations, read from the loaded rule groups."""
        intervals = [float(g["interval"]) for g in self.rules() if g.get("interval")]
        return min(intervals) if intervals else default


def console() -> Console:
    """A rich console; when output is not a terminal (make in CI, a pipe) use a wide page so the
    evidence columns are not folded into slivers."""
    probe = Console()
    return probe if probe.is_terminal else Console(width=160)


def sample_value(result: list[dict], default: float | None = None) -> float | None:
    """The value of a one-element instant vector (None/default when empty or NaN)."""
    if not result:
        return default
    value = float(result[0]["value"][1])
    return default if math.isnan(value) else value
