"""`make bench`: the marketplace at 10,000 packages against its targets, in about two minutes.

    python -m ops.bench [--size 10000] [--seconds 10] [--latency-seconds 8] [--out FILE]

Every server is one production process (`python -m marketplace`: gunicorn, one worker,
threads) on 127.0.0.1 and a free port; the load comes from a second process (wrk, else
`ops.bench_client`). Search paths are a Zipf-distributed rotation over the catalog's own terms
(the load generator's planner), long enough that the cache both hits and misses. Runs:

1. v2 as shipped: time to /readyz, search and lookup latency over one connection (service
   time, no queueing), search throughput at 16 connections, RSS of the serving process;
2. v2 with OTEL_SDK_DISABLED=true and logs at warning: the same, to price instrumentation;
3. v1: search throughput at 16 connections (and its one-connection latency);
4. a bare Flask app under the same gunicorn settings answering a precomputed body of the
   size of a v2 search answer: the ceiling at 16 connections, and over one connection the
   latency floor of this machine and client.

The table shows each target beside its figure with a mark; a miss never fails the command.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import requests
from marketplace.loadgen.mix import Mix, Planner
from marketplace.loadgen.vocabulary import from_environment
from marketplace.settings import Settings

from ops.bench_bare import DEFAULT_BODY_BYTES
from ops.bench_server import LOOPBACK, Server, free_port, python_module
from ops.bench_table import build_table, notes, render
from ops.bench_wrk import PathSet, WrkResult, load_client, run_load, write_path_set

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "bench-results.json"
ROTATION = 20_000  # paths per rotation: longer than a 10 s run at 16 connections goes through
SEED = 2026
WARMUP_SECONDS = 2
UNINSTRUMENTED = {"OTEL_SDK_DISABLED": "true", "MARKETPLACE_LOG_LEVEL": "warning"}


# --- environment and paths ----------------------------------------------------------------


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


def build_paths(size: int, directory: Path) -> dict[str, PathSet]:
    words, _ = from_environment({"MARKETPLACE_CATALOG_SIZE": str(size)})
    only = {"search": 0.0, "lookup": 0.0, "install": 0.0}
    default_limit = ((None, 1.0),)  # one response shape, so sizes compare with the bare body
    search = Planner(words, Mix(**{**only, "search": 1.0}, limits=default_limit), SEED)
    lookup = Planner(words, Mix(**{**only, "lookup": 1.0}, unknown_id_share=0.0), SEED)
    return {
        "search": write_path_set(
            "search", [search.next().path for _ in range(ROTATION)], directory
        ),
        "lookup": write_path_set(
            "lookup", [lookup.next().path for _ in range(ROTATION)], directory
        ),
    }


# --- one server ---------------------------------------------------------------------------


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


def cache_counts(base_url: str) -> tuple[float, float]:
    """marketplace_cache_{hits,misses}_total{cache="search"} from /metrics."""
    text = requests.get(base_url + "/metrics", timeout=10).text
    found = {}
    for kind in ("hits", "misses"):
        pattern = rf'^marketplace_cache_{kind}_total{{[^}}]*cache="search"[^}}]*}} (\S+)'
        match = re.search(pattern, text, re.MULTILINE)
        found[kind] = float(match.group(1)) if match else 0.0
    return found["hits"], found["misses"]


@dataclass(frozen=True)
class Load:
    name: str
    paths: PathSet
    connections: int
    seconds: float
    timeout: float = 10.0


def summary(result: WrkResult, cpu_ms: float | None) -> str:
    text = f"{result.rps:.1f} req/s, p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms"
    if cpu_ms is not None:
        text += f", {cpu_ms:.3f} ms CPU/request"
    if result.non_2xx or result.socket_errors:
        text += f" ({result.non_2xx} non-2xx, {result.socket_errors} socket errors/timeouts)"
    return text


def run_phase(
    name: str,
    command: list[str],
    env: dict[str, str],
    loads: list[Load],
    log_dir: Path,
    warmup: PathSet | None = None,
    body_of: PathSet | None = None,
    cache: bool = False,
    grace: float = 10.0,
) -> dict:
    """One server, its loads in order; a failure is recorded and the benchmark goes on."""
    phase: dict = {"results": {}}
    print(f"{name}: starting", flush=True)
    try:
        with Server(name, command, env, log_dir, grace=grace) as server:
            phase["ready_seconds"] = round(server.start(), 3)
            print(f"  {name} ready in {phase['ready_seconds']:.2f} s", flush=True)
            if body_of is not None:
                phase["search_body_bytes"] = response_bytes(server.base_url, body_of)
            before = cache_counts(server.base_url) if cache else None
            if warmup is not None:
                run_load(server.base_url, warmup, 4, WARMUP_SECONDS)
            for load in loads:
                if load.connections > 1 and too_slow(phase):
                    phase["skipped"] = (
                        f"{load.name}: one search takes longer than {SLOW_SECONDS:g} s, so no "
                        f"request would finish in a {load.seconds:g} s run; throughput comes "
                        "from the one-connection run (a GIL-bound process gains no CPU from more "
                        "connections)"
                    )
                    print(f"  {name} {load.name}: skipped, too slow", flush=True)
                    continue
                cpu = server.cpu_seconds()
                result = run_load(
                    server.base_url, load.paths, load.connections, load.seconds, load.timeout
                )
                cpu = server.cpu_seconds() - cpu
                phase["results"][load.name] = {
                    **result.as_dict(),
                    "cpu_ms_per_request": round(1000 * cpu / result.requests, 3)
                    if result.requests
                    else None,
                }
                cpu_ms = phase["results"][load.name]["cpu_ms_per_request"]
                print(f"  {name} {load.name}: {summary(result, cpu_ms)}", flush=True)
            if before is not None:
                hits, misses = (
                    b - a for a, b in zip(before, cache_counts(server.base_url), strict=True)
                )
                phase["search_cache_hit_ratio"] = hits / (hits + misses) if hits + misses else None
            phase["memory"] = server.memory()
    except (RuntimeError, OSError, requests.RequestException) as error:
        phase["error"] = str(error)
        print(f"  {name} failed: {error}", file=sys.stderr, flush=True)
    return phase


SLOW_SECONDS = 2.0


def too_slow(phase: dict) -> bool:
    one = phase["results"].get("search_c1")
    return one is not None and (one["requests"] == 0 or one["mean_ms"] > SLOW_SECONDS * 1000)


# --- main ---------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ops.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000, help="catalog size (packages)")
    parser.add_argument("--seconds", type=float, default=10, help="each 16-connection run")
    parser.add_argument("--latency-seconds", type=float, default=8, help="each 1-connection run")
    parser.add_argument("--v1-seconds", type=float, default=20, help="v1's 1-connection run")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    data: dict = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "catalog_size": args.size,
        "client": load_client(),
        "cpus": os.cpu_count(),
        "load_average_before": os.getloadavg(),
        "runs": {},
    }
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        directory = Path(tmp)
        paths = build_paths(args.size, directory)
        search, lookup = paths["search"], paths["lookup"]
        lat, thr = args.latency_seconds, args.seconds
        v2_loads = [
            Load("search_c1", search, 1, lat),
            Load("lookup_c1", lookup, 1, lat),
            Load("search_c16", search, 16, thr),
        ]
        service = python_module("marketplace")
        runs = data["runs"]
        runs["v2"] = run_phase(
            "v2",
            service,
            service_env("v2", args.size),
            v2_loads,
            directory,
            warmup=search,
            body_of=search,
            cache=True,
        )
        runs["v2_uninstrumented"] = run_phase(
            "v2-uninstrumented",
            service,
            service_env("v2", args.size, UNINSTRUMENTED),
            v2_loads,
            directory,
            warmup=search,
            cache=True,
        )
        # v1 answers a search in seconds at this size: long timeouts, no warm-up, and the
        # 16-connection run only if one connection shows it could finish something
        runs["v1"] = run_phase(
            "v1",
            service,
            service_env("v1", args.size),
            [
                Load("search_c1", search, 1, args.v1_seconds, timeout=60),
                Load("search_c16", search, 16, thr, timeout=60),
            ],
            directory,
            grace=2,
        )
        body = runs["v2"].get("search_body_bytes") or DEFAULT_BODY_BYTES
        runs["bare"] = run_phase(
            "bare",
            python_module("ops.bench_bare"),
            {**service_env("v2", args.size), "BENCH_BARE_BODY_BYTES": str(round(body))},
            [Load("search_c1", search, 1, lat), Load("search_c16", search, 16, thr)],
            directory,
            warmup=search,
        )
    data["threads"] = Settings.from_env({}).threads
    table = build_table(data)
    data["table"] = [asdict(r) for r in table]
    data["notes"] = notes(data)
    data["wall_seconds"] = round(time.monotonic() - started, 1)
    args.out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print()
    print(render(table))
    print("\n".join(["", *data["notes"]]))
    print(f"{args.out} written; whole run {data['wall_seconds']} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
