"""Drive the soak: one marketplace v2 process as the native stack starts it, the load generator
in this process, the faults through the admin API.

1. ceiling: 8 threads send the load generator's mix back to back for `--measure` seconds; the
   answers per second are the highest rate this process serves here (the load generator's own
   CPU included, since it shares the machine);
2. warm-up: the load at that rate, every fault on for a few seconds once, so that every label
   value (the 503 code, say) and every cache exists before the start is measured;
3. start figures; then each fault on for `--phase` seconds and off for as long, in turn, until
   `--duration` has passed; end figures, under the same load.
"""

from __future__ import annotations

import argparse
import itertools
import json
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests
from marketplace.loadgen import Mix, Planner, Runner, Target, vocabulary

from ops.soak import probe, report
from ops.stack import topology
from ops.stack.native import NativeStack

V2 = "marketplace-v2"
RUN_DIR = topology.REPO_ROOT / ".run" / "soak"
# (fault, value): each the admin API's own key (docs/service.md, "Fault injection")
FAULTS = (
    ("search_latency_ms", 250),
    ("lookup_latency_ms", 250),
    ("rdf_latency_ms", 100),
    ("cache_bypass", True),
    ("error_rate", 0.1),
)
ERROR_FAULTS = {"error_rate"}  # the only fault whose 5xx are expected
WORKERS = 8  # the load generator's default threads per target
SETTLE = 1.0  # after a fault goes off, requests it slowed finish before the next phase counts


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure_ceiling(url: str, planner: Planner, seconds: float) -> float:
    """Answers per second with WORKERS threads sending back to back."""
    paths = [planner.next() for _ in range(5000)]
    deadline = time.monotonic() + seconds
    counts = [0] * WORKERS

    def worker(index: int) -> None:
        with requests.Session() as http:
            http.trust_env = False
            for n in itertools.count(index, WORKERS):
                if time.monotonic() >= deadline:
                    return
                planned = paths[n % len(paths)]
                try:
                    http.request(planned.method, url + planned.path, timeout=10)
                    counts[index] += 1
                except requests.RequestException:
                    pass

    began = time.monotonic()
    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(worker, range(WORKERS)))
    return sum(counts) / (time.monotonic() - began)


class Load:
    """The load generator's Runner at a fixed rate, in a thread, until stopped."""

    def __init__(self, url: str, planner: Planner, rate: float, log: Path) -> None:
        self.target = Target(url, workers=WORKERS, timeout=10.0)
        self.stop_event = threading.Event()
        self._log = log.open("a", encoding="utf-8")
        self.runner = Runner([self.target], planner, rate=rate, progress_every=30, out=self._log)
        self.thread = threading.Thread(target=self.runner.run, args=(self.stop_event,), daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(30)
        self._log.close()


class Soak:
    def __init__(self, stack: NativeStack, args: argparse.Namespace) -> None:
        self.stack = stack
        self.args = args
        self.url = stack.url(V2)
        self.http = requests.Session()
        self.http.trust_env = False
        self.phases: list[report.Phase] = []

    def snapshot(self) -> dict[str, float]:
        return probe.snapshot(self.http, self.url, self.stack.procs.running(V2))

    def phase(self, fault: str, value, seconds: float, record: bool = True) -> None:
        before, began = self.snapshot(), time.monotonic()
        if fault != "none":
            self.stack.set_faults(V2, **{fault: value})
        time.sleep(seconds)
        if fault != "none":
            self.stack.clear_faults(V2)
            time.sleep(SETTLE)
        after = self.snapshot()
        if record:
            self.phases.append(
                report.Phase(
                    fault,
                    time.monotonic() - began,
                    after["requests"] - before["requests"],
                    after["server_errors"] - before["server_errors"],
                    fault in ERROR_FAULTS,
                )
            )

    def run(self) -> int:
        args = self.args
        words, _ = vocabulary.from_environment()
        rate = args.rate or measure_ceiling(self.url, Planner(words, Mix(), 1), args.measure)
        print(f"soak: {V2} at {self.url}; load {rate:.0f} req/s", end="")
        print(" (given)" if args.rate else f" (the ceiling measured over {args.measure:g}s)")
        load = Load(self.url, Planner(words, Mix(), 2), rate, self.stack.run_dir / "load.log")
        load.start()
        try:
            for fault, value in FAULTS:
                self.phase(fault, value, args.warmup, record=False)
            self.phase("none", None, args.warmup * 2, record=False)
            start = self.snapshot()
            print(f"\nstart ({time.strftime('%H:%M:%S')}):")
            print(report.resource_table(start, start, (0, 0)))
            deadline = time.monotonic() + args.duration
            for fault, value in itertools.cycle(FAULTS):
                if time.monotonic() + 2 * args.phase > deadline:
                    break
                self.phase(fault, value, args.phase)
                self.phase("none", None, args.phase)
            end = self.snapshot()
        finally:
            load.stop()
        stats = load.target.stats
        verdict = report.judge(start, end, self.phases, stats.failed)
        print(f"\nend ({time.strftime('%H:%M:%S')}), after {args.duration:g}s:")
        print(report.resource_table(start, end, (0, verdict.unexpected_5xx)))
        print("\n" + report.phase_table(self.phases))
        print(
            f"\nload generator: sent {stats.sent}, 5xx {stats.server_errors}, "
            f"no answer {stats.failed}, dropped at its queue {stats.dropped}"
        )
        result = {
            "rate": rate,
            "start": start,
            "end": end,
            "phases": [p.__dict__ for p in self.phases],
            "verdict": verdict.__dict__,
        }
        (self.stack.run_dir / "soak-result.json").write_text(json.dumps(result, indent=2) + "\n")
        print("\nPASS" if verdict.ok else "\nFAIL: " + "; ".join(verdict.reasons))
        return 0 if verdict.ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops.soak", description=__doc__.split("\n")[0])
    parser.add_argument("--duration", type=report.parse_duration, default="10m")
    parser.add_argument("--rate", type=float, help="requests/s (default: the measured ceiling)")
    parser.add_argument("--measure", type=report.parse_duration, default="15s")
    parser.add_argument("--phase", type=report.parse_duration, default="30s", help="per fault")
    parser.add_argument("--warmup", type=report.parse_duration, default="5s", help="per fault")
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stack = NativeStack(args.run_dir, {V2: free_port()}, loadgen_rate=0)
    try:
        stack.start(V2)
        stack.wait_ready([V2], 120)
        return Soak(stack, args).run()
    except KeyboardInterrupt:
        print("soak: interrupted", file=sys.stderr)
        return 130
    finally:
        stack.stop(V2)
        stack.close()
