"""`make bench`: the marketplace at 10,000 packages against issue 10's targets, in about six
minutes.

    python -m ops.bench [--size 10000] [--seconds 5] [--latency-seconds 5] [--rounds 3] [--v1]
                        [--out FILE] [--docs FILE]

Every server is one production process (`python -m marketplace`) on 127.0.0.1 and a free port;
the load comes from a second process (wrk, else `ops.bench.client`). Search paths are a
Zipf-distributed rotation over the catalog's own terms (the load generator's planner), long
enough that the cache both hits and misses. The configurations (ops/bench/profiles.py):

1. shipped, as compose runs it (its OTEL_* settings, logs to the file, spans to a live local
   sink): one-connection search and lookup latency, 16-connection search throughput, time to
   /readyz, RSS;
2. stock (the Flask instrumentor, stdlib json, stdout and file, gunicorn) and the shipped app on
   gunicorn: 16-connection throughput, for the >= 2x target and the server comparison;
3. one signal added at a time on the shipped server, for the per-signal cost table;
4. the shipped configuration with a 10% sampler; the export's batch settings and protocol at one
   connection (the tail);
5. a bare Flask app on each server, the ceiling; v1 with --v1.

Two tables are printed (and written to the JSON): the targets with ✓/✗, and the per-signal
costs. A miss never fails the command.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

from marketplace.loadgen.mix import Mix, Planner
from marketplace.loadgen.vocabulary import from_environment
from marketplace.settings import Settings

from ops.bench.bare import DEFAULT_BODY_BYTES
from ops.bench.phase import Instance, Load, run_phase, service_env
from ops.bench.profiles import Profile, compose_environment, profiles
from ops.bench.server import python_module
from ops.bench.table import build_signal_table, build_table, notes, render, render_signals
from ops.bench.wrk import PathSet, load_client, write_path_set

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO_ROOT / "bench-results.json"
ROTATION = 20_000  # paths per rotation: longer than a 5 s run at 16 connections goes through
SEED = 2026
THROUGHPUT = ("stock", "shipped_gunicorn", "sampled_10", "export_whole_batches")
TAIL = ("export_sdk_defaults", "export_other_protocol", "export_whole_batches")
SIGNALS = (
    "signal_metrics",
    "signal_server_span",
    "signal_internal_spans",
    "signal_logs_stdout",
    "signal_logs_file",
)


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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m ops.bench", description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=10_000, help="catalog size (packages)")
    parser.add_argument("--seconds", type=float, default=5, help="each 16-connection run")
    parser.add_argument("--latency-seconds", type=float, default=5, help="each 1-connection run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of every run")
    parser.add_argument("--v1", action="store_true", help="also run v1 (about 40 s more)")
    parser.add_argument("--v1-seconds", type=float, default=20, help="v1's 1-connection run")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="JSON results file")
    parser.add_argument(
        "--docs", type=Path, default=None, help="also replace the tables in this markdown file"
    )
    return parser.parse_args(argv)


def rotated(items: list, by: int) -> list:
    """Each round starts one configuration later, so none is always measured first or last."""
    by %= len(items)
    return items[by:] + items[:by]


def run_all(args: argparse.Namespace, directory: Path, data: dict) -> None:
    paths = build_paths(args.size, directory)
    search, lookup = paths["search"], paths["lookup"]
    c16 = Load("search_c16", search, 16, args.seconds)
    c1 = Load("search_c1", search, 1, args.latency_seconds)
    lookup_c1 = Load("lookup_c1", lookup, 1, args.latency_seconds)
    compose = compose_environment()
    data["compose_environment"] = compose
    found = profiles(compose)
    service = python_module("marketplace")

    def instance(name: str, command=service, profile=None, **extra) -> Instance:
        env = {**service_env("v2", args.size), **extra}
        return Instance(name, command, env, directory, profile or found[name], "bare" not in name)

    # the shipped server first and alone: its time to ready is not shared with anything of ours
    print("shipped: starting alone", flush=True)
    shipped = instance("shipped")
    shipped.launch()
    shipped.ready(search, body_of=search)
    body = str(round(shipped.phase.get("search_body_bytes") or DEFAULT_BODY_BYTES))
    print("the other configurations: starting together", flush=True)
    others = [instance(name) for name in dict.fromkeys((*THROUGHPUT, *SIGNALS, *TAIL))]
    bares = [
        instance(
            f"bare_{server}",
            python_module("ops.bench.bare"),
            Profile(f"bare_{server}", {"MARKETPLACE_SERVER": server}),
            BENCH_BARE_BODY_BYTES=body,
        )
        for server in ("granian", "gunicorn")
    ]
    everyone = [shipped, *others, *bares]
    try:
        for one in [*others, *bares]:
            one.launch()
        for one in [*others, *bares]:
            one.ready(search)
        by_name = {one.name: one for one in everyone}
        throughput = [shipped, *(by_name[n] for n in (*THROUGHPUT, *SIGNALS)), *bares]
        latency = [shipped, *(by_name[n] for n in TAIL), bares[0]]
        for number in range(args.rounds):
            print(f"round {number + 1} of {args.rounds}", flush=True)
            for one in rotated(throughput, number):
                one.run(c16, number)
            for one in rotated(latency, number):
                one.run(c1, number)
            for one in rotated([shipped, by_name["export_whole_batches"]], number):
                one.run(lookup_c1, number)
    finally:
        for one in everyone:
            data["runs"][one.name] = one.finish()
    if args.v1:
        data["runs"]["v1"] = run_phase(
            "v1",
            service,
            service_env("v1", args.size),
            [
                Load("search_c1", search, 1, args.v1_seconds, timeout=60),
                Load("search_c16", search, 16, args.seconds, timeout=60),
            ],
            directory,
            grace=2,
        )  # fmt: skip


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
        run_all(args, Path(tmp), data)
    data["load_average_after"] = os.getloadavg()
    settings = Settings.from_env({})
    data["threads"], data["server"] = settings.threads, settings.server
    table, signals = build_table(data), build_signal_table(data)
    data["table"] = [asdict(r) for r in table]
    data["signals"] = [asdict(r) for r in signals]
    data["notes"] = notes(data)
    data["wall_seconds"] = round(time.monotonic() - started, 1)
    args.out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    text = "\n".join([render(table), "", render_signals(signals), "", *data["notes"]])
    print()
    print(text)
    if args.docs is not None:
        write_docs(args.docs, text, data)
    print(f"{args.out} written; whole run {data['wall_seconds']} s.")
    return 0


BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def write_docs(path: Path, text: str, data: dict) -> None:
    """Replace the block between the bench markers with this run's printed tables."""
    doc = path.read_text(encoding="utf-8")
    if BEGIN not in doc or END not in doc:
        print(f"{path}: no {BEGIN} ... {END} block, left unchanged", file=sys.stderr)
        return
    head, _, rest = doc.partition(BEGIN)
    _, _, tail = rest.partition(END)
    block = (
        f"{BEGIN}\n{data['generated_at']}, `make bench`, {data['wall_seconds']:.0f} s:\n\n"
        f"```text\n{text}\n```\n{END}"
    )
    path.write_text(head + block + tail, encoding="utf-8")
