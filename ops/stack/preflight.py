"""Before the native `make up` starts anything: every prerequisite, checked at once.

A missing binary or a taken port used to show only after some components had started (and had to
be stopped again), one problem per attempt. This checks them all first, the binaries each
component runs, the host ports `.env` gives the native components (free, and not two alike), the
Python packages the local processes import, and a writable run directory, and reports every
problem in one table. A component whose PID file names a live process is already up: its port is
its own and is not a problem.
"""

from __future__ import annotations

import errno
import importlib.util
import os
import shutil
import socket
import sys
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from ops.stack import topology
from ops.stack.components import BINARIES

INSTALL_BINARIES = "apt-get install -y --no-install-recommends prometheus prometheus-alertmanager"
# The local processes run `python -m <package>` with this interpreter (launcher.py).
PYTHON_PACKAGES = {
    "alertsink": "alertsink",
    "marketplace-v1": "marketplace",
    "marketplace-v2": "marketplace",
    "loadgen": "marketplace",
}
RUN_SUBDIRS = ("pids", "logs", "data")


@dataclass(frozen=True)
class Problem:
    """One unmet prerequisite: what was checked, about what, what is wrong, how to fix it."""

    check: str
    subject: str
    problem: str
    fix: str


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True when something already listens on host:port (bind fails with EADDRINUSE)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # A socket in TIME_WAIT after a previous stack is no listener: the launch would succeed.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as err:
            if err.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def _port_key(component: str) -> str:
    return topology.COMPONENTS[component][1] or topology.COMPONENTS[component][0]


def binary_problems(
    components: Iterable[str], which: Callable[[str], str | None] = shutil.which
) -> list[Problem]:
    problems = []
    for component in components:
        names = BINARIES.get(component)
        if names and not any(which(name) for name in names):
            problems.append(
                Problem(
                    "binary",
                    component,
                    f"none of {', '.join(names)} on PATH",
                    INSTALL_BINARIES,
                )
            )
    return problems


def package_problems(components: Iterable[str]) -> list[Problem]:
    problems, seen = [], set()
    for component in components:
        package = PYTHON_PACKAGES.get(component)
        if package is None or package in seen:
            continue
        seen.add(package)
        if importlib.util.find_spec(package) is None:
            problems.append(
                Problem(
                    "python package",
                    component,
                    f"`{package}` is not importable by {sys.executable}",
                    "make install",
                )
            )
    return problems


def port_problems(
    ports: Mapping[str, int],
    skip: Collection[str] = (),
    in_use: Callable[[int], bool] = port_in_use,
) -> list[Problem]:
    problems = []
    owners: dict[int, str] = {}
    for component, port in ports.items():
        if port in owners:
            problems.append(
                Problem(
                    "port",
                    f"{component} ({_port_key(component)}={port})",
                    f"the same port as {owners[port]}",
                    "give each component its own port in .env",
                )
            )
            continue
        owners[port] = component
        if component not in skip and in_use(port):
            problems.append(
                Problem(
                    "port",
                    f"{component} (127.0.0.1:{port}, {_port_key(component)})",
                    "already in use by another process",
                    f"stop it (`ss -ltnp 'sport = :{port}'` names it) or change "
                    f"{_port_key(component)} in .env",
                )
            )
    return problems


def run_dir_problems(run_dir: Path) -> list[Problem]:
    """The run directory and its subdirectories must be (or become) writable directories."""
    problems = []
    for path in (run_dir, *(run_dir / sub for sub in RUN_SUBDIRS)):
        if path.exists() and not path.is_dir():
            problems.append(
                Problem(
                    "run dir", str(path), "exists but is not a directory", f"remove or move {path}"
                )
            )
        elif path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
            problems.append(Problem("run dir", str(path), "not writable", f"chown or chmod {path}"))
    if not run_dir.exists():
        parent = run_dir.parent
        while not parent.exists() and parent != parent.parent:
            parent = parent.parent
        if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
            problems.append(
                Problem(
                    "run dir",
                    str(run_dir),
                    f"cannot be created in {parent}",
                    f"make {parent} writable or pass another --run-dir",
                )
            )
    return problems


def check(
    ports: Mapping[str, int],
    run_dir: Path,
    components: Iterable[str],
    running: Collection[str] = (),
) -> list[Problem]:
    """Every problem that would stop the native stack from starting; empty when it can start."""
    needed = [c for c in components if c not in running]
    return [
        *binary_problems(needed),
        *package_problems(needed),
        *port_problems(ports, skip=running),
        *run_dir_problems(Path(run_dir)),
    ]


def table(problems: Iterable[Problem]) -> str:
    rows = [("check", "what", "problem", "fix")]
    rows += [(p.check, p.subject, p.problem, p.fix) for p in problems]
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def report(stack) -> int:
    """Check a NativeStack before its up(); print the problems, if any, as one table on stderr.

    Returns 0 when it may start, else 1 (and nothing was started).
    """
    components = stack.components()
    running = {name for name in components if stack.procs.running(name) is not None}
    problems = check(stack.ports, stack.run_dir, components, running)
    if not problems:
        return 0
    print(
        f"native stack: not started, {len(problems)} problem(s) found before starting anything:\n"
        f"{table(problems)}",
        file=sys.stderr,
    )
    return 1
