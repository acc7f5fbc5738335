"""Server processes for the benchmark: start, time to ready, memory, stop by PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

LOOPBACK = "127.0.0.1"
REPO_ROOT = Path(__file__).resolve().parents[2]  # `ops` imports from here


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def children(pid: int) -> list[int]:
    """Direct children of a process (gunicorn's worker under its arbiter)."""
    found: list[int] = []
    task_dir = Path(f"/proc/{pid}/task")
    for task in task_dir.glob("*") if task_dir.exists() else ():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process (all its threads), from /proc/<pid>/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    # after the command name: state is field 3, so utime (14) and stime (15) are at 11 and 12
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of one process, in KiB, from /proc/<pid>/status."""
    values: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values


class Server:
    """One server process tree; `with Server(...) as s:` guarantees it is stopped."""

    def __init__(
        self, name: str, command: list[str], env: dict[str, str], log_dir: Path, grace: float = 10
    ):
        self.name = name
        self.grace = grace
        self.command = command
        self.env = env
        self.port = int(env["BENCH_PORT"])
        self.base_url = f"http://{LOOPBACK}:{self.port}"
        self.log_path = log_dir / f"{name}.log"
        self.process: subprocess.Popen | None = None
        self.ready_seconds: float | None = None
        self._started = 0.0
        self._known_pids: dict[int, bytes] = {}  # pid -> cmdline, so a reused pid is spared

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, ready_path: str = "/readyz", timeout: float = 120.0) -> float:
        """Start the process and return the seconds until `ready_path` answers 200."""
        self.launch()
        return self.wait_ready(ready_path, timeout)

    def launch(self) -> None:
        self._started = time.monotonic()
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.command, env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT
            )
        self._remember([self.process.pid])

    def wait_ready(self, ready_path: str = "/readyz", timeout: float = 120.0) -> float:
        """Seconds from launch() until `ready_path` answers 200."""
        started = self._started
        url = self.base_url + ready_path
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited ({self.process.returncode}):\n{self.tail()}"
                )
            try:
                if requests.get(url, timeout=1.0).status_code == 200:
                    self.ready_seconds = time.monotonic() - started
                    self._remember(children(self.process.pid))
                    return self.ready_seconds
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} not ready after {timeout:.0f}s:\n{self.tail()}")

    def worker_pids(self) -> list[int]:
        return children(self.process.pid) if self.process else []

    def cpu_seconds(self) -> float:
        """CPU time of the serving process: on a shared machine, CPU per request is steadier
        than throughput, which moves with whatever else the cores are doing."""
        if self.process is None:
            return 0.0
        return sum(cpu_seconds(pid) for pid in self.worker_pids() or [self.process.pid])

    def wait_idle(self, window: float = 0.25, busy_share: float = 0.08, limit: float = 20) -> float:
        """Seconds until the serving process spends less than `busy_share` of a core over a
        `window`: the work a load left queued (spans still to export, log lines to write) is
        done. At most `limit` seconds."""
        started = time.monotonic()
        for _ in range(max(1, int(limit / window))):
            before = self.cpu_seconds()
            time.sleep(window)
            if self.cpu_seconds() - before < busy_share * window:
                break
        return time.monotonic() - started

    def memory(self) -> dict[str, float]:
        """RSS of the serving process (the worker, else the process itself), in MB."""
        if self.process is None:
            return {}
        pids = self.worker_pids() or [self.process.pid]
        self._remember(pids)
        worker = memory_kib(pids[0])
        tree = [memory_kib(p).get("VmRSS", 0) for p in [self.process.pid, *pids]]
        return {
            "rss_mb": round(worker.get("VmRSS", 0) / 1024, 1),
            "peak_rss_mb": round(worker.get("VmHWM", 0) / 1024, 1),
            "tree_rss_mb": round(sum(tree) / 1024, 1),
        }

    def tail(self, lines: int = 20) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM the process, SIGKILL after the grace period, then any worker left behind."""
        grace = self.grace
        if self.process is None:
            return
        if self.process.poll() is None:
            self._remember(children(self.process.pid))
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(grace)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        # gunicorn's worker exits with its arbiter; this only catches one left behind
        for pid, cmdline in self._known_pids.items():
            if pid != self.process.pid and _cmdline(pid) == cmdline:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue

    def _remember(self, pids: list[int]) -> None:
        for pid in pids:
            self._known_pids.setdefault(pid, _cmdline(pid))


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
