"""Processes the native launcher starts, remembered by PID file so that only they are stopped.

Each process runs in a session of its own, so its process group id is its PID: stopping the group
also stops the workers it forked (gunicorn), and nothing else. A PID file records the kernel's start
time of the process as well, so a PID reused by an unrelated process is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from ops.polling import polls


def _start_ticks(pid: int) -> int | None:
    """Start time of a live (non-zombie) process in clock ticks since boot, else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its last ")".
    fields = stat[stat.rindex(")") + 2 :].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


class ProcessSurvived(RuntimeError):
    """A process that was asked to stop is still running; its PID file is kept."""

    def __init__(self, name: str, pid: int, why: str) -> None:
        super().__init__(f"{name} (pid {pid}) did not stop: {why}")
        self.name = name
        self.pid = pid


@dataclass
class Record:
    pid: int
    start_ticks: int
    argv: list[str]
    started_at: float


class ProcessTable:
    """Start, find and stop named processes whose PID files live in one directory."""

    def __init__(self, pid_dir: Path, log_dir: Path) -> None:
        self.pid_dir = pid_dir
        self.log_dir = log_dir
        # Children of this Python process, kept so that they are reaped (no zombies in tests).
        self._children: dict[str, subprocess.Popen] = {}

    def pid_file(self, name: str) -> Path:
        return self.pid_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"

    def record(self, name: str) -> Record | None:
        try:
            data = json.loads(self.pid_file(name).read_text())
            return Record(**data)
        except (OSError, ValueError, TypeError):
            return None

    def running(self, name: str) -> int | None:
        """PID of the named process if the one this table started is still alive."""
        child = self._children.get(name)
        if child is not None and child.poll() is not None:
            del self._children[name]
        rec = self.record(name)
        if rec is None or _start_ticks(rec.pid) != rec.start_ticks:
            return None
        return rec.pid

    def names(self) -> list[str]:
        return sorted(p.stem for p in self.pid_dir.glob("*.pid"))

    def start(self, name: str, argv: list[str], env: dict[str, str], cwd: Path) -> int:
        if (pid := self.running(name)) is not None:
            return pid
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with self.log_file(name).open("ab") as log:
            child = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=cwd,
                start_new_session=True,
            )
        ticks = None
        for _ in polls(1.0, 0.01):  # /proc/<pid> appears at once; the loop only guards a slow fork
            ticks = _start_ticks(child.pid)
            if ticks is not None or child.poll() is not None:
                break
        self._children[name] = child
        rec = Record(child.pid, ticks or -1, argv, time.time())
        self.pid_file(name).write_text(json.dumps(rec.__dict__))
        return child.pid

    def exited(self, name: str) -> int | None:
        """Exit code of a child this table started in this process, None if still running."""
        child = self._children.get(name)
        return None if child is None else child.poll()

    def stop(self, name: str, timeout: float = 15.0, kill_timeout: float = 5.0) -> bool:
        """SIGTERM the named process group, SIGKILL after `timeout`; True if one was running.

        The PID file goes only once the process is gone: if it cannot be signalled or outlives
        SIGKILL, ProcessSurvived is raised and the file stays, so a later `make down` still
        knows what to stop.
        """
        pid = self.running(name)
        if pid is None:
            self.pid_file(name).unlink(missing_ok=True)  # stale: its process is gone
            self._children.pop(name, None)
            return False
        try:
            self._signal(pid, signal.SIGTERM)
            if not self._wait_gone(name, pid, timeout):
                self._signal(pid, signal.SIGKILL)
                self._wait_gone(name, pid, kill_timeout)
        except PermissionError as exc:
            raise ProcessSurvived(name, pid, f"not allowed to signal it ({exc})") from exc
        if self._alive(name, pid):
            raise ProcessSurvived(name, pid, f"still running {timeout + kill_timeout:g}s later")
        self.pid_file(name).unlink(missing_ok=True)
        self._children.pop(name, None)
        return True

    def _wait_gone(self, name: str, pid: int, timeout: float) -> bool:
        for _ in polls(timeout, 0.1):
            if not self._alive(name, pid):
                return True
        return not self._alive(name, pid)

    def _alive(self, name: str, pid: int) -> bool:
        child = self._children.get(name)
        if child is not None:
            return child.poll() is None
        return _start_ticks(pid) is not None

    @staticmethod
    def _signal(pid: int, signum: int) -> None:
        """Signal the process group, else the process alone; PermissionError if neither may be."""
        try:
            os.killpg(pid, signum)
        except ProcessLookupError:
            pass
        except PermissionError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signum)

    def tail(self, name: str, lines: int = 20) -> str:
        return tail(self.log_file(name), lines)


def tail(path: Path, lines: int = 20) -> str:
    """The last `lines` lines of a file (read from its last 16 KiB), or "" if it is missing."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            handle.seek(max(0, handle.tell() - 16_384))
            return b"\n".join(handle.read().splitlines()[-lines:]).decode(errors="replace")
    except OSError:
        return ""


def _console_logs(log_dir: Path) -> list[Path]:
    """Each process's stdout/stderr log; not the services' `*.json.log`, the same lines again."""
    return sorted(p for p in log_dir.glob("*.log") if not p.name.endswith(".json.log"))


def print_logs(log_dir: Path, lines: int, follow: bool) -> int:
    """Every process log under `log_dir`, prefixed by its name; with `follow`, until Ctrl-C."""
    files = _console_logs(log_dir) if log_dir.is_dir() else []
    if not files:
        print(f"no logs under {log_dir}")
        return 1
    offsets: dict[Path, int] = {}
    for path in files:
        for line in tail(path, lines).splitlines():
            print(f"{path.stem:>16} | {line}")
        offsets[path] = path.stat().st_size
    with contextlib.suppress(KeyboardInterrupt):
        while follow:
            time.sleep(0.5)
            for path in _console_logs(log_dir):  # new files too, like tail -F
                size, start = path.stat().st_size, offsets.get(path, 0)
                start = start if size >= start else 0  # truncated: start again
                if size > start:
                    with path.open("rb") as handle:
                        handle.seek(start)
                        chunk = handle.read(size - start).decode(errors="replace")
                    for line in chunk.splitlines():
                        print(f"{path.stem:>16} | {line}", flush=True)
                offsets[path] = size
    return 0
