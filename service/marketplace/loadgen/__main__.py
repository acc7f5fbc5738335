"""Command line of the load generator; SIGINT and SIGTERM stop it cleanly."""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import threading
import time
from collections.abc import Callable

import requests

from marketplace.loadgen import vocabulary
from marketplace.loadgen.mix import Mix, Planner, Vocabulary
from marketplace.loadgen.runner import Runner, Target


def positive(kind: Callable[[str], float]) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be positive, got {text}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m marketplace.loadgen",
        description="Send a realistic mix of marketplace requests to one or more services. "
        "Every request goes to every target, so --rate and --count are per target.",
    )
    parser.add_argument(
        "--target", action="append", required=True, metavar="URL", help="base URL (repeatable)"
    )
    parser.add_argument("--rate", type=positive(float), default=10.0, help="requests/s per target")
    end = parser.add_mutually_exclusive_group()
    end.add_argument("--duration", type=positive(float), metavar="SECONDS", help="stop after")
    end.add_argument("--count", type=positive(int), metavar="N", help="stop after N requests")
    parser.add_argument("--seed", type=int, help="seed of the request mix (default: random)")
    parser.add_argument(
        "--catalog-size",
        type=positive(int),
        help="synthetic catalog size the targets serve (default: $MARKETPLACE_CATALOG_SIZE)",
    )
    parser.add_argument(
        "--catalog", help="Turtle file the targets serve (default: $MARKETPLACE_CATALOG, shipped)"
    )
    parser.add_argument("--workers", type=positive(int), default=8, help="threads per target")
    parser.add_argument("--timeout", type=positive(float), default=5.0, help="per request, s")
    parser.add_argument("--progress", type=positive(float), default=10.0, help="line every N s")
    parser.add_argument(
        "--wait-ready",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="wait this long for every target's /readyz before sending (0: don't wait)",
    )
    return parser


def load_vocabulary(args: argparse.Namespace) -> tuple[Vocabulary, str]:
    env = dict(os.environ)
    if args.catalog_size:
        env["MARKETPLACE_CATALOG_SIZE"] = str(args.catalog_size)
    elif args.catalog:
        env.pop("MARKETPLACE_CATALOG_SIZE", None)
        env["MARKETPLACE_CATALOG"] = args.catalog
    return vocabulary.from_environment(env)


def wait_ready(targets: list[str], seconds: float, stop: threading.Event) -> bool:
    """True once every target's /readyz answers 200, False if time or a signal ran out."""
    deadline = time.monotonic() + seconds
    pending = list(targets)
    with requests.Session() as session:
        while pending and not stop.is_set():
            try:
                if session.get(pending[0].rstrip("/") + "/readyz", timeout=2).status_code == 200:
                    pending.pop(0)
                    continue
            except requests.RequestException:
                pass
            if time.monotonic() >= deadline:
                return False
            stop.wait(0.5)
    return not pending


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())

    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    words, source = load_vocabulary(args)
    print(
        f"loadgen: {len(words.queries)} terms and {len(words.package_ids)} ids from {source};"
        f" seed {seed}; {args.rate:g} req/s per target to {', '.join(args.target)}",
        flush=True,
    )
    if args.wait_ready > 0:
        print(f"loadgen: waiting up to {args.wait_ready:g}s for every /readyz", flush=True)
    if args.wait_ready > 0 and not wait_ready(args.target, args.wait_ready, stop):
        if stop.is_set():
            return 0
        print(f"loadgen: targets not ready after {args.wait_ready:g}s; sending anyway", flush=True)

    targets = [Target(url, workers=args.workers, timeout=args.timeout) for url in args.target]
    runner = Runner(
        targets,
        Planner(words, Mix(), seed),
        rate=args.rate,
        count=args.count,
        duration=args.duration,
        progress_every=args.progress,
    )
    runner.run(stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
