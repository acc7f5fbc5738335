"""One benchmark phase: one server process in one configuration, its loads in order.

A phase that exports gets its own OTLP sink (ops.bench.sink), stopped after the server, so the
spans the server flushes at shutdown are counted too: `spans_delivered` (spans received over the
spans the server's own counters say it made) is the evidence that every span was exported (or,
with a sampler, the share that was).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from ops.bench.profiles import Profile
from ops.bench.server import LOOPBACK, Server, free_port
from ops.bench.sink import Sink
from ops.bench.wrk import PathSet, WrkResult, run_load

WARMUP_SECONDS = 2
SLOW_SECONDS = 2.0
PROBES = ("/metrics", "/readyz", "/healthz")


def clean_environment() -> dict[str, str]:
    """The caller's environment without MARKETPLACE_* and OTEL_*: every run sets its own."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("MARKETPLACE_", "OTEL_", "BENCH_"))
    }


def service_env(variant: str, size: int, extra: dict[str, str] | None = None) -> dict[str, str]:
    port = free_port()
    env = clean_environment()
    env.update(
        MARKETPLACE_VARIANT=variant,
        MARKETPLACE_CATALOG_SIZE=str(size),
        MARKETPLACE_HOST=LOOPBACK,
        MARKETPLACE_PORT=str(port),
        BENCH_PORT=str(port),
    )
    env.update(extra or {})
    return env


@dataclass(frozen=True)
class Load:
    name: str
    paths: PathSet
    connections: int
    seconds: float
    timeout: float = 10.0


def first_paths(paths: PathSet, n: int) -> list[str]:
    return paths.plain.read_text(encoding="utf-8").splitlines()[:n]


def response_bytes(base_url: str, paths: PathSet, n: int = 50) -> float:
    """Mean body size of the first search paths, each checked to answer 200."""
    sizes = []
    with requests.Session() as session:
        for path in first_paths(paths, n):
            response = session.get(base_url + path, timeout=30)
            if response.status_code != 200:
                raise RuntimeError(f"GET {path} answered {response.status_code}: {response.text}")
            sizes.append(len(response.content))
    return sum(sizes) / len(sizes)


def metrics_text(base_url: str) -> str:
    return requests.get(base_url + "/metrics", timeout=10).text


@lru_cache(maxsize=2)
def _parsed(text: str) -> tuple:
    """Every sample of an exposition, parsed once: a phase's figures all read the same text."""
    return tuple(s for family in text_string_to_metric_families(text) for s in family.samples)


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every sample called `name` in an exposition."""
    return [(sample.labels, sample.value) for sample in _parsed(text) if sample.name == name]


def cache_counts(text: str) -> tuple[float, float]:
    """marketplace_cache_{hits,misses}_total{cache="search"} from /metrics."""
    hits, misses = (
        sum(
            v
            for labels, v in samples(text, f"marketplace_cache_{kind}_total")
            if labels.get("cache") == "search"
        )
        for kind in ("hits", "misses")
    )
    return hits, misses


def traced_requests(text: str) -> float:
    """Requests answered on routes that are traced (every route but the probes)."""
    return sum(
        value
        for labels, value in samples(text, "marketplace_http_requests_total")
        if labels.get("route") not in PROBES
    )


def spans_made(text: str) -> float:
    """The spans the server made for the benchmark's loads (valid searches and lookups), from its
    own counters: a server span per traced request, an operation span per API request, and a
    `marketplace.cache.get` span per cache miss (a hit has none)."""
    operations = sum(
        value
        for labels, value in samples(text, "marketplace_http_requests_total")
        if labels.get("route", "").startswith("/api/")
    )
    misses = sum(value for _, value in samples(text, "marketplace_cache_misses_total"))
    return traced_requests(text) + operations + misses


def spans_dropped(text: str) -> float | None:
    found = samples(text, "marketplace_tracing_spans_dropped_total")
    return sum(value for _, value in found) if found else None


def summary(result: WrkResult, cpu_ms: float | None) -> str:
    text = f"{result.rps:.1f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms"
    if cpu_ms is not None:
        text += f", {cpu_ms:.3f} ms CPU/request"
    if result.non_2xx or result.socket_errors:
        text += f" ({result.non_2xx} non-2xx, {result.socket_errors} socket errors/timeouts)"
    return text


def too_slow(phase: dict) -> bool:
    one = phase["results"].get("search_c1")
    return one is not None and (one["requests"] == 0 or one["mean_ms"] > SLOW_SECONDS * 1000)


def measure(server: Server, load: Load) -> dict:
    """One load against a running server: the load figures and the server's CPU per request,
    counted until the server is idle again. A configuration whose span export falls behind
    would otherwise look cheaper by the work it put off past the load's end."""
    cpu = server.cpu_seconds()
    result = run_load(server.base_url, load.paths, load.connections, load.seconds, load.timeout)
    settle = server.wait_idle()
    cpu = server.cpu_seconds() - cpu
    return {
        **result.as_dict(),
        "settle_seconds": round(settle, 2),
        "cpu_seconds": round(cpu, 4),
        "cpu_ms_per_request": round(1000 * cpu / result.requests, 3) if result.requests else None,
    }


class Instance:
    """One configuration's server (and OTLP sink when it exports), started and kept running so
    that its loads can be interleaved with the other configurations' (`rounds`)."""

    def __init__(
        self,
        name: str,
        command: list[str],
        env: dict,
        log_dir: Path,
        profile: Profile | None = None,
        marketplace: bool = True,  # False: the bare app, which has no /metrics
    ):
        self.name = name
        self.marketplace = marketplace
        self.profile = profile or Profile(name)
        self.env = {**env, **self.profile.env}
        if self.profile.log_file:
            self.env["MARKETPLACE_LOG_FILE"] = str(log_dir / f"{name}.json.log")
        self.sink = (
            Sink(self.profile.sink_protocol(), free_port(), Path.cwd())
            if self.profile.export
            else None
        )
        self.server = Server(name, command, self.env, log_dir)
        self.phase: dict = {"results": {}, "rounds": {}}
        self._cache_before: tuple[float, float] | None = None

    def launch(self) -> None:
        """Start the sink and the server process, without waiting for it to be ready."""
        if self.sink is not None:
            self.sink.__enter__()
            self.server.env["OTEL_EXPORTER_OTLP_ENDPOINT"] = self.sink.endpoint
            self.server.env["OTEL_EXPORTER_OTLP_PROTOCOL"] = self.sink.protocol
        self.server.launch()

    def ready(self, warmup: PathSet | None, body_of: PathSet | None = None) -> bool:
        """Wait until it serves, then warm it up; False (and the error recorded) if it fails."""
        try:
            self._ready(warmup, body_of)
        except (RuntimeError, OSError, requests.RequestException) as error:
            self.phase["error"] = str(error)
            print(f"  {self.name} failed: {error}", file=sys.stderr, flush=True)
            return False
        return True

    def _ready(self, warmup: PathSet | None, body_of: PathSet | None) -> None:
        self.phase["ready_seconds"] = round(self.server.wait_ready(), 3)
        print(f"  {self.name} ready in {self.phase['ready_seconds']:.2f} s", flush=True)
        if body_of is not None:
            self.phase["search_body_bytes"] = response_bytes(self.server.base_url, body_of)
        if warmup is not None:
            run_load(self.server.base_url, warmup, 4, WARMUP_SECONDS)
        if self.marketplace:
            self._cache_before = cache_counts(metrics_text(self.server.base_url))

    def run(self, load: Load, round_number: int | None = None) -> dict | None:
        if "error" in self.phase:
            return None
        try:
            result = measure(self.server, load)
        except (RuntimeError, OSError, requests.RequestException) as error:
            self.phase["error"] = str(error)
            return None
        if round_number is None:
            self.phase["results"][load.name] = result
        else:
            self.phase["rounds"].setdefault(load.name, []).append(result)
        cpu_ms = result["cpu_ms_per_request"]
        label = load.name if round_number is None else f"{load.name} round {round_number + 1}"
        idle = f"idle {result['settle_seconds']:.2f} s after"
        print(f"  {self.name} {label}: {summary(_as_wrk(result), cpu_ms)}, {idle}", flush=True)
        return result

    def finish(self) -> dict:
        """Combine the rounds, read the last figures, stop the server, then the sink."""
        phase = self.phase
        for name, rounds in phase.pop("rounds").items():
            phase["results"][name] = combine(rounds)
        try:
            if self._cache_before is not None:
                text = metrics_text(self.server.base_url)
                pairs = zip(self._cache_before, cache_counts(text), strict=True)
                hits, misses = (b - a for a, b in pairs)
                phase["search_cache_hit_ratio"] = hits / (hits + misses) if hits + misses else None
                phase["traced_requests"] = traced_requests(text)
                phase["spans_made"] = spans_made(text)
                phase["spans_dropped"] = spans_dropped(text)
            phase["memory"] = self.server.memory()
        except (OSError, requests.RequestException) as error:
            phase["error"] = str(error)
        finally:
            self.server.stop()
            if self.sink is not None:
                self.sink.__exit__(None, None, None)
        counts = self.sink.counts if self.sink is not None else None
        if counts is not None:
            phase["spans_received"] = counts["spans"]
            if phase.get("traced_requests"):
                phase["spans_per_request"] = round(counts["spans"] / phase["traced_requests"], 3)
            if phase.get("spans_made"):
                phase["spans_delivered"] = round(counts["spans"] / phase["spans_made"], 4)
        log_file = self.env.get("MARKETPLACE_LOG_FILE")
        if log_file and Path(log_file).exists():
            with Path(log_file).open(encoding="utf-8") as lines:
                phase["log_lines"] = sum(1 for _ in lines)
        return phase


def _as_wrk(result: dict) -> WrkResult:
    return WrkResult(**{k: result[k] for k in WrkResult.__dataclass_fields__})


def combine(rounds: list[dict]) -> dict:
    """Rounds of one load: totals for counts and CPU, the median round for rates and latency."""
    ordered = sorted(rounds, key=lambda r: r["rps"])
    median = dict(ordered[len(ordered) // 2])
    requests_total = sum(r["requests"] for r in rounds)
    cpu_total = sum(r["cpu_seconds"] for r in rounds)
    median.update(
        requests=requests_total,
        seconds=round(sum(r["seconds"] for r in rounds), 3),
        non_2xx=sum(r["non_2xx"] for r in rounds),
        socket_errors=sum(r["socket_errors"] for r in rounds),
        cpu_seconds=round(cpu_total, 4),
        cpu_ms_per_request=round(1000 * cpu_total / requests_total, 3) if requests_total else None,
        cpu_ms_per_request_rounds=[r["cpu_ms_per_request"] for r in rounds],
        settle_seconds_rounds=[r["settle_seconds"] for r in rounds],
        rps_rounds=[r["rps"] for r in rounds],
        p99_ms_rounds=[r["p99_ms"] for r in rounds],
    )
    return median


def run_phase(
    name: str, command: list[str], env: dict, loads: list[Load], log_dir: Path, grace: float = 10
) -> dict:
    """One server alone, its loads in order (v1); a failure is recorded and the benchmark goes
    on. The 16-connection run is skipped when one search takes longer than SLOW_SECONDS."""
    one = Instance(name, command, env, log_dir)
    one.server.grace = grace
    print(f"{name}: starting", flush=True)
    try:
        one.launch()
        for load in loads if one.ready(None) else ():
            if load.connections > 1 and too_slow(one.phase):
                one.phase["skipped"] = (
                    f"{load.name}: one search takes longer than {SLOW_SECONDS:g} s; throughput"
                    " comes from the one-connection run"
                )
                continue
            one.run(load)
    except (RuntimeError, OSError, requests.RequestException) as error:
        one.phase["error"] = str(error)
        print(f"  {name} failed: {error}", file=sys.stderr, flush=True)
    return one.finish()
