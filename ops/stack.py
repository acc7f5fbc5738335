"""`make up/down/status/logs/clean`: the compose stack when a Docker engine answers, else native.

    python -m ops.stack up|down|status|logs|clean --mode auto|native|docker

auto picks docker when `docker info` succeeds and native otherwise, and says which it picked.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import subprocess
import sys
from collections.abc import Sequence

COMMANDS = ("up", "down", "status", "logs", "clean")


def docker_engine() -> tuple[bool, str]:
    """(engine answers, why) from `docker info`."""
    if not shutil.which("docker"):
        return False, "no docker client on PATH"
    try:
        probe = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=15)
    except subprocess.TimeoutExpired:
        return False, "`docker info` did not answer within 15s"
    if probe.returncode != 0:
        reason = (probe.stderr or probe.stdout).strip().splitlines()
        return False, f"`docker info` failed: {reason[-1] if reason else probe.returncode}"
    return True, "`docker info` answered"


def choose_mode(requested: str) -> str:
    if requested in ("native", "docker"):
        print(f"mode: {requested} (asked for)", file=sys.stderr)
        return requested
    engine, why = docker_engine()
    mode = "docker" if engine else "native"
    detail = "compose stack" if engine else "Docker-less stack on 127.0.0.1, see docs/native.md"
    print(f"mode: {mode} ({why}; {detail})", file=sys.stderr)
    return mode


def run(command: str, mode: str) -> int:
    if mode == "native":
        from ops import native

        return getattr(native, command)()
    try:
        # Imported only when asked for, so native mode never depends on the compose tooling.
        compose = importlib.import_module("ops.compose")
    except ImportError as exc:
        print(f"docker mode is unavailable: {exc}", file=sys.stderr)
        return 2
    if command == "logs":
        return compose.logs(follow=sys.stdout.isatty())
    return getattr(compose, command)()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.stack", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=COMMANDS)
    parser.add_argument("--mode", choices=("auto", "native", "docker"), default="auto")
    args = parser.parse_args(argv)
    return run(args.command, choose_mode(args.mode))


if __name__ == "__main__":
    sys.exit(main())
