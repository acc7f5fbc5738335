"""The stack without Docker: Debian's Prometheus and Alertmanager, the alert sink, marketplace v1
and v2 and the load generator, all on 127.0.0.1, with every file under one run directory.

    python -m ops.stack.native up|down|status|logs|clean [--run-dir .run]

`.run/` layout: prometheus.yml and alertmanager.yml (rendered, see render.py), secrets/,
data/prometheus/, data/alertmanager/, logs/<component>.log (stdout and stderr),
logs/marketplace-v*.json.log (MARKETPLACE_LOG_FILE), pids/<component>.pid, admin-token.
These commands drive NativeStack (launcher.py), as the integration tests do on free ports.
"""

from __future__ import annotations

import argparse
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from ops.stack import preflight, topology
from ops.stack.components import StackError
from ops.stack.launcher import RUN_DIR, NativeStack, StopFailed
from ops.stack.procs import ProcessSurvived, print_logs


# ---- the commands behind `make up/down/status/logs/clean` (MODE=native) -----------------------
def _table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def docker_only_note() -> str:
    return (
        f"Not started (they need a Docker engine; `make up MODE=docker`): "
        f"{', '.join(topology.DOCKER_ONLY)}."
    )


def up(run_dir: Path = RUN_DIR, timeout: float = 120.0) -> int:
    stack = NativeStack(run_dir, prefer_real_secrets=True)
    if preflight.report(stack) != 0:
        return 1
    try:
        took = stack.up(timeout)
    except StackError as exc:
        print(f"native stack: {exc}", file=sys.stderr)
        print(
            f"Stopping what this `make up` started (logs stay in {stack.run_dir / 'logs'}): "
            f"{', '.join(stack.started) or 'nothing'}; what ran before keeps running.",
            file=sys.stderr,
        )
        _report_survivors(stack.undo_up()[1])
        return 1
    rows = [("component", "url", "ready after", "pid")]
    for name, pid, _, url in stack.status():
        rows.append((name, url or "-", f"{took.get(name, 0):.1f}s", str(pid)))
    print(_table(rows))
    print(f"\nRun directory: {stack.run_dir} (logs/, data/, pids/); admin token in admin-token.")
    print(docker_only_note())
    return 0


def _report_survivors(survivors: Sequence[ProcessSurvived]) -> int:
    for survivor in survivors:
        print(f"STILL RUNNING: {survivor} (PID file kept)", file=sys.stderr)
    return 1 if survivors else 0


def _stop(run_dir: Path) -> tuple[list[str], list[ProcessSurvived]]:
    try:
        return NativeStack(run_dir).down(), []
    except StopFailed as failed:
        return failed.stopped, failed.survivors


def down(run_dir: Path = RUN_DIR) -> int:
    stopped, survivors = _stop(run_dir)
    print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was stopped")
    return _report_survivors(survivors)


def status(run_dir: Path = RUN_DIR) -> int:
    rows = [("component", "state", "pid", "url")]
    states = []
    for name, pid, state, url in NativeStack(run_dir).status():
        rows.append((name, state, str(pid or "-"), url or "-"))
        states.append(state)
    print(_table(rows))
    print(docker_only_note())
    return 0 if all(s == "ready" for s in states) else 1


def logs(run_dir: Path = RUN_DIR, follow: bool | None = None, lines: int = 50) -> int:
    """Print the end of every log; keep following (like tail -F) when attached to a terminal."""
    follow = sys.stdout.isatty() if follow is None else follow
    return print_logs(run_dir / "logs", lines, follow)


def clean(run_dir: Path = RUN_DIR) -> int:
    """Stop what runs, then delete the run directory; say what each step did."""
    stopped, survivors = _stop(run_dir)
    if stopped:
        print(f"stopped: {', '.join(stopped)}")
    if survivors:
        _report_survivors(survivors)
        print(f"kept {run_dir}: its PID files name processes still running", file=sys.stderr)
        return 1
    if not run_dir.exists():
        print(f"nothing to remove: {run_dir} does not exist")
        return 0
    contents = sorted(f"{p.name}/" if p.is_dir() else p.name for p in run_dir.iterdir())
    shutil.rmtree(run_dir)
    print(f"removed {run_dir}" + (f" ({', '.join(contents)})" if contents else " (empty)"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.stack.native", description=__doc__.split("\n")[0]
    )
    parser.add_argument("command", choices=("up", "down", "status", "logs", "clean"))
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR)
    parser.add_argument("-f", "--follow", action=argparse.BooleanOptionalAction, default=None)
    parser.add_argument("-n", "--lines", type=int, default=50)
    args = parser.parse_args(argv)
    if args.command == "logs":
        return logs(args.run_dir, args.follow, args.lines)
    return {"up": up, "down": down, "status": status, "clean": clean}[args.command](args.run_dir)


if __name__ == "__main__":
    sys.exit(main())
