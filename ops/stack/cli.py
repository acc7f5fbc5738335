"""`make up/down/status/logs/clean`: the compose stack when a Docker engine answers, else native.

    python -m ops.stack up|down|status|logs|clean --mode auto|native|docker

auto follows the stack that runs: native when the native launcher's PID files (.run/pids/*.pid)
name live processes, so `make down/status/logs` after `make up MODE=native` reach that stack on a
host that also has Docker; otherwise docker when `docker info` succeeds, else native. It says which
it picked and why.
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ops.stack.procs import ProcessTable

COMMANDS = ("up", "down", "status", "logs", "clean")


def native_running(run_dir: Path | None = None) -> list[str]:
    """Components of a native stack whose PID files name a live process (same start time)."""
    if run_dir is None:
        from ops.stack.native import (
            RUN_DIR as run_dir,  # where `make up MODE=native` keeps its PIDs
        )
    table = ProcessTable(run_dir / "pids", run_dir / "logs")
    if not table.pid_dir.is_dir():
        return []
    return [name for name in table.names() if table.running(name) is not None]


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


def auto_mode(run_dir: Path | None = None) -> tuple[str, str]:
    """(mode, why) for auto: a running native stack first, then whether Docker answers."""
    live = native_running(run_dir)
    if live:
        return "native", f"native stack running: {', '.join(live)} (.run/pids)"
    engine, why = docker_engine()
    detail = "compose stack" if engine else "Docker-less stack on 127.0.0.1, see docs/native.md"
    return ("docker" if engine else "native"), f"{why}; {detail}"


def choose_mode(requested: str, run_dir: Path | None = None) -> str:
    if requested in ("native", "docker"):
        print(f"mode: {requested} (asked for)", file=sys.stderr)
        return requested
    mode, why = auto_mode(run_dir)
    print(f"mode: {mode} ({why})", file=sys.stderr)
    return mode


def run(command: str, mode: str) -> int:
    if mode == "native":
        from ops.stack import native

        return getattr(native, command)()
    try:
        # Imported only when asked for, so native mode never depends on the compose tooling.
        compose = importlib.import_module("ops.stack.compose")
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
