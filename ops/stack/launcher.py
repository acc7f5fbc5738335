"""NativeStack: one native stack's processes on 127.0.0.1, every file under one run directory.

It renders the configs (render.py), starts each component (components.py says what it is),
waits until each answers, and stops them by PID (procs.py). The `make` commands that drive it are
in native.py; the integration tests drive it directly on free ports with faster intervals.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import requests

from ops.polling import polls
from ops.stack import render, topology
from ops.stack.components import (
    BINARIES,
    COMPONENTS,
    LOADGEN,
    READY_PATHS,
    StackError,
    binary,
    host_ports,
    receiver_names,
)
from ops.stack.procs import ProcessSurvived, ProcessTable

RUN_DIR = topology.REPO_ROOT / ".run"


class StopFailed(StackError):
    """Some processes outlived `down`; their PID files are kept so that it can be tried again."""

    def __init__(self, stopped: list[str], survivors: list[ProcessSurvived]) -> None:
        super().__init__("; ".join(str(survivor) for survivor in survivors))
        self.stopped = stopped
        self.survivors = survivors


class NativeStack:
    """One native stack: render its configs, start, probe and stop its processes."""

    def __init__(
        self,
        run_dir: Path = RUN_DIR,
        ports: Mapping[str, int] | None = None,
        *,
        scrape_interval: str | None = None,
        evaluation_interval: str | None = None,
        route_timings: Mapping[str, str] | None = None,
        loadgen_rate: float | None = None,
        loadgen_targets: Sequence[str] = ("marketplace-v1", "marketplace-v2"),
        admin_token: str | None = None,
        prefer_real_secrets: bool = False,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.env_file = topology.load_env()
        self.run_dir = Path(run_dir)
        self.ports = dict(ports or host_ports(self.env_file))
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.route_timings = dict(route_timings or {})
        self.loadgen_rate = (
            float(self.env_file.get("LOADGEN_RATE", 5)) if loadgen_rate is None else loadgen_rate
        )
        self.loadgen_targets = tuple(loadgen_targets)
        self.prefer_real_secrets = prefer_real_secrets
        self.extra_env = dict(extra_env or {})
        self.procs = ProcessTable(self.run_dir / "pids", self.run_dir / "logs")
        # What the last up() started itself (not what was already running), in start order.
        self.started: list[str] = []
        self._token = admin_token
        self._http = requests.Session()
        self._http.trust_env = False  # loopback only: never through a proxy from the environment

    # ---- addresses -------------------------------------------------------------------------
    @property
    def urls(self) -> dict[str, str]:
        return {name: f"http://127.0.0.1:{port}" for name, port in self.ports.items()}

    def url(self, component: str) -> str:
        return self.urls[component]

    def url_env(self) -> dict[str, str]:
        """`<NAME>_URL` variables that point ops.stack.topology, so every command, at this stack."""
        return {topology.env_var_for(name): url for name, url in self.urls.items()}

    @property
    def admin_token(self) -> str:
        if self._token is None:
            path = self.run_dir / "admin-token"
            if os.environ.get("MARKETPLACE_ADMIN_TOKEN"):
                self._token = os.environ["MARKETPLACE_ADMIN_TOKEN"]
            elif path.is_file():
                self._token = path.read_text().strip()
            else:
                self._token = secrets.token_urlsafe(24)
                self.run_dir.mkdir(parents=True, exist_ok=True)
                path.write_text(self._token + "\n")
                path.chmod(0o600)
        return self._token

    # ---- configuration ---------------------------------------------------------------------
    def render(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / "prometheus.yml").write_text(
            render.render_prometheus(
                render.PROMETHEUS_DIR / "prometheus.yml",
                self.ports,
                self.run_dir,
                scrape_interval=self.scrape_interval,
                evaluation_interval=self.evaluation_interval,
            )
        )
        (self.run_dir / "alertmanager.yml").write_text(
            render.render_alertmanager(
                render.ALERTMANAGER_DIR / "alertmanager.yml",
                self.ports,
                self.run_dir,
                route_timings=self.route_timings,
            )
        )
        render.render_secrets(self.ports, self.run_dir, prefer_real=self.prefer_real_secrets)

    def command(self, name: str) -> tuple[list[str], dict[str, str]]:
        env = {**os.environ, **self.extra_env, "PYTHONUNBUFFERED": "1"}
        listen = f"127.0.0.1:{self.ports.get(name, 0)}"
        data = self.run_dir / "data" / name
        if name == "prometheus":
            argv = [
                binary("prometheus"),
                f"--config.file={self.run_dir / 'prometheus.yml'}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address={listen}",
                f"--web.external-url={self.url(name)}",
                "--storage.tsdb.retention.time=" + self.env_file.get("PROMETHEUS_RETENTION", "15d"),
                "--enable-feature=exemplar-storage",
            ]
        elif name == "alertmanager":
            argv = [
                binary("alertmanager"),
                f"--config.file={self.run_dir / 'alertmanager.yml'}",
                f"--storage.path={data}",
                f"--web.listen-address={listen}",
                f"--web.external-url={self.url(name)}",
                "--cluster.listen-address=",  # no HA gossip (it would listen on 0.0.0.0:9094)
            ]
        elif name == "alertsink":
            argv = [sys.executable, "-m", "alertsink"]
            env |= {
                "ALERTSINK_HOST": "127.0.0.1",
                "ALERTSINK_PORT": str(self.ports[name]),
                "ALERTSINK_RECEIVERS": receiver_names(),
            }
        elif name.startswith("marketplace-"):
            argv = [sys.executable, "-m", "marketplace"]
            env |= {
                "MARKETPLACE_VARIANT": name.removeprefix("marketplace-"),
                "MARKETPLACE_HOST": "127.0.0.1",
                "MARKETPLACE_PORT": str(self.ports[name]),
                "MARKETPLACE_ADMIN_TOKEN": self.admin_token,
                "MARKETPLACE_ENVIRONMENT": "native",
                # The same JSON lines as stdout (logs/<name>.log), without the launcher's or
                # gunicorn's own lines: what `make slo-report` reads when no Loki runs.
                "MARKETPLACE_LOG_FILE": str(self.json_log_file(name)),
                # No collector runs natively: keep the SDK from exporting to nowhere.
                "OTEL_TRACES_EXPORTER": "none",
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_LOGS_EXPORTER": "none",
            }
        elif name == LOADGEN:
            argv = [sys.executable, "-m", "marketplace.loadgen", "--rate", f"{self.loadgen_rate:g}"]
            for variant in self.loadgen_targets:
                argv += ["--target", self.url(variant)]
            argv += ["--progress", "60"]
        else:
            raise KeyError(name)
        if name in BINARIES:
            data.mkdir(parents=True, exist_ok=True)
        return argv, env

    def json_log_file(self, name: str) -> Path:
        """Where a marketplace variant writes its JSON log lines (MARKETPLACE_LOG_FILE)."""
        return (self.procs.log_dir / f"{name}.json.log").absolute()

    def components(self) -> list[str]:
        return [c for c in COMPONENTS if c != LOADGEN or self.loadgen_rate > 0]

    # ---- lifecycle -------------------------------------------------------------------------
    def start(self, name: str) -> int:
        argv, env = self.command(name)
        return self.procs.start(name, argv, env, topology.REPO_ROOT)

    def up(self, timeout: float = 120.0) -> dict[str, float]:
        """Start whatever is not running; return seconds until each component was ready.

        `started` lists what this call started, so that a failed start can undo just that.
        """
        self.render()
        self.started = []
        began = time.monotonic()
        # Prometheus starts once its targets answer: a first scrape that finds the marketplace
        # still loading records up=0, which the availability SLO would count as downtime.
        first = [c for c in self.components() if c not in ("prometheus", LOADGEN)]
        for name in first:
            self._start_if_stopped(name)
        took = self.wait_ready(first, timeout, began)
        rest = [c for c in self.components() if c not in first]
        for name in rest:
            self._start_if_stopped(name)
        return took | self.wait_ready(rest, max(1.0, timeout - (time.monotonic() - began)), began)

    def _start_if_stopped(self, name: str) -> None:
        if self.procs.running(name) is None:
            self.start(name)
            self.started.append(name)

    def undo_up(self) -> tuple[list[str], list[ProcessSurvived]]:
        """Stop what the last up() started, newest first; components running before stay."""
        return self._stop_all(reversed(self.started))

    def is_ready(self, name: str) -> bool:
        if self.procs.running(name) is None:
            return False
        if name not in READY_PATHS:
            return True
        try:
            response = self._http.get(self.url(name) + READY_PATHS[name], timeout=2)
        except requests.RequestException:
            return False
        return response.status_code == 200

    def wait_ready(
        self, names: Sequence[str], timeout: float = 120.0, began: float | None = None
    ) -> dict[str, float]:
        began = time.monotonic() if began is None else began
        ready: dict[str, float] = {}
        for _ in polls(timeout, 0.2):
            for name in names:
                if name in ready:
                    continue
                if self.is_ready(name):
                    ready[name] = time.monotonic() - began
                elif self.procs.running(name) is None:
                    raise StackError(f"{name} exited during start-up:\n{self.procs.tail(name)}")
            if len(ready) == len(names):
                return ready
        late = [n for n in names if n not in ready]
        tails = "\n".join(f"--- {n}\n{self.procs.tail(n)}" for n in late)
        raise StackError(f"not ready after {timeout:g}s: {', '.join(late)}\n{tails}")

    def stop(self, name: str) -> bool:
        return self.procs.stop(name)

    def restart(self, name: str, timeout: float = 60.0) -> float:
        self.stop(name)
        began = time.monotonic()
        self.start(name)
        return self.wait_ready([name], timeout, began)[name]

    def down(self) -> list[str]:
        """Stop every process this run directory's PID files name, load generator first.

        Returns what was stopped; raises StopFailed, after trying every process, if any is
        still running (its PID file kept for the next try).
        """
        known = [c for c in reversed(COMPONENTS) if c in self.procs.names()]
        others = [n for n in self.procs.names() if n not in known]
        stopped, survivors = self._stop_all([*known, *others])
        if survivors:
            raise StopFailed(stopped, survivors)
        return stopped

    def _stop_all(self, names: Iterable[str]) -> tuple[list[str], list[ProcessSurvived]]:
        stopped, survivors = [], []
        for name in names:
            try:
                if self.procs.stop(name):
                    stopped.append(name)
            except ProcessSurvived as exc:
                survivors.append(exc)
        return stopped, survivors

    def status(self) -> list[tuple[str, int | None, str, str]]:
        """(component, pid, state, url) with state ready, starting or stopped."""
        rows = []
        for name in COMPONENTS:
            pid = self.procs.running(name)
            state = "stopped" if pid is None else ("ready" if self.is_ready(name) else "starting")
            rows.append((name, pid, state, self.urls.get(name, "")))
        return rows

    # ---- faults (PUT/DELETE /admin/faults, docs/contracts.md) ---------------------------------
    def set_faults(self, component: str, **faults: float | bool) -> dict:
        response = self._http.put(
            self.url(component) + "/admin/faults",
            json=faults,
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=5,
        )
        response.raise_for_status()
        return response.json()

    def clear_faults(self, component: str) -> None:
        response = self._http.delete(
            self.url(component) + "/admin/faults",
            headers={"Authorization": f"Bearer {self.admin_token}"},
            timeout=5,
        )
        response.raise_for_status()

    def close(self) -> None:
        self._http.close()
