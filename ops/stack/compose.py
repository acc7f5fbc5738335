"""The compose stack: `make up/down/status/logs/clean` when a Docker engine answers.

Each command returns a process exit code; ops.stack dispatches to them. `up` builds and starts
compose.yaml, waits until every component answers on the host (addresses from ops.stack.topology, so
`<NAME>_URL` overrides work here too), then prints where everything is.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import requests

from ops.polling import polls
from ops.stack import topology

GRAFANA_PASSWORD_FILE = topology.REPO_ROOT / "grafana" / "secrets" / "admin_password"


@dataclass(frozen=True)
class Probe:
    """How the host tells that a component is ready."""

    component: str
    path: str
    method: str = "GET"
    body: str | None = None
    what: str = ""


# One probe per published component. The collector has no readiness page on a published port,
# so it is asked to accept an empty OTLP/HTTP trace export, which proves the receiver is serving.
PROBES: tuple[Probe, ...] = (
    Probe("marketplace-v1", "/readyz", what="service, variant v1"),
    Probe("marketplace-v2", "/readyz", what="service, variant v2"),
    Probe("otel-collector", "/v1/traces", "POST", "{}", what="OTLP/HTTP receiver"),
    Probe("tempo", "/ready", what="trace store API"),
    Probe("prometheus", "/-/ready", what="metrics, rules, alerts"),
    Probe("alertmanager", "/-/ready", what="alert routing"),
    Probe("alertsink", "/healthz", what="received notifications: /api/notifications"),
    Probe("loki", "/ready", what="log store API"),
    Probe("grafana", "/api/health", what="dashboards (anonymous Viewer; admin below)"),
)
# Published nowhere, so compose's healthcheck is the only view of it.
UNPUBLISHED = ("promtail",)


def run_compose(
    *args: str, capture: bool = False, check: bool = False, timeout: float | None = None
) -> subprocess.CompletedProcess[str]:
    """`docker compose ARGS` in the repository (also the stack tests' one way to call it)."""
    return subprocess.run(
        ["docker", "compose", *args],
        cwd=topology.REPO_ROOT,
        check=check,
        text=True,
        capture_output=capture,
        timeout=timeout,
    )


def compose_available() -> str | None:
    """None when `docker compose` works, else the reason it does not."""
    if shutil.which("docker") is None:
        return "the docker CLI is not installed"
    result = run_compose("version", capture=True)
    if result.returncode != 0:
        return "the docker compose plugin is missing (docker compose version failed)"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        return "no Docker engine answers (docker info failed)"
    return None


def ensure_grafana_password(path: Path = GRAFANA_PASSWORD_FILE) -> bool:
    """Create the git-ignored admin password file when missing; True when it was created.

    The directory is private to the host user; the file itself must be world-readable because
    compose (outside swarm) bind-mounts secrets with the host's mode and Grafana runs as UID 472.
    """
    if path.exists():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    path.write_text(secrets.token_urlsafe(24) + "\n", encoding="utf-8")
    path.chmod(0o644)
    return True


def probe(spec: Probe, timeout: float = 3.0) -> tuple[bool, str]:
    """One attempt: (ready, short reason)."""
    try:
        url = topology.host_url(spec.component) + spec.path
    except KeyError as err:
        return False, str(err)
    headers = {"Content-Type": "application/json"} if spec.body is not None else {}
    try:
        response = requests.request(
            spec.method, url, data=spec.body, headers=headers, timeout=timeout
        )
    except requests.RequestException as err:
        return False, type(err).__name__
    if response.status_code == 200:
        return True, "ready"
    return False, f"HTTP {response.status_code}"


def container_health(service: str) -> str:
    """compose's view of one service: `healthy`, `starting`, `running`, ... or `absent`."""
    result = run_compose("ps", "--all", "--format", "json", service, capture=True)
    if result.returncode != 0 or not result.stdout.strip():
        return "absent"
    text = result.stdout.strip()
    # Newer compose prints one JSON object per line, older ones a JSON array.
    rows = json.loads(text) if text.startswith("[") else [json.loads(x) for x in text.splitlines()]
    if not rows:
        return "absent"
    row = rows[0]
    return row.get("Health") or row.get("State") or "unknown"


def wait_ready(
    probes: Sequence[Probe] = PROBES, timeout: float = 300.0, interval: float = 2.0
) -> dict[str, str]:
    """Poll until everything is ready or `timeout` passes; component -> last state."""
    state: dict[str, str] = {}
    pending = {p.component: p for p in probes}
    pending_unpublished = set(UNPUBLISHED)
    announced = ""
    for _ in polls(timeout, interval):
        for name, spec in list(pending.items()):
            ok, reason = probe(spec)
            state[name] = reason
            if ok:
                del pending[name]
        for name in list(pending_unpublished):
            state[name] = container_health(name)
            if state[name] == "healthy":
                pending_unpublished.discard(name)
        if not pending and not pending_unpublished:
            return state
        waiting = ", ".join(sorted([*pending, *pending_unpublished]))
        if waiting != announced:  # one line per change, not per poll
            print(f"  waiting for: {waiting}", file=sys.stderr)
            announced = waiting
    return state


def url_table(state: dict[str, str] | None = None) -> str:
    """The components, their host URLs and, when known, their readiness."""
    rows = [("component", "URL", "state", "what")]
    for spec in PROBES:
        rows.append(
            (
                spec.component,
                topology.host_url(spec.component),
                (state or {}).get(spec.component, ""),
                spec.what,
            )
        )
    for name in UNPUBLISHED:
        rows.append(
            (name, "(not published)", (state or {}).get(name, ""), "ships log files to Loki")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [
        "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _ready(state: dict[str, str]) -> bool:
    return all(v in ("ready", "healthy") for v in state.values())


def up(timeout: float = 300.0) -> int:
    """Build, start, wait for readiness, print the URL table."""
    reason = compose_available()
    if reason:
        print(f"compose stack unavailable: {reason}", file=sys.stderr)
        return 1
    if ensure_grafana_password():
        print(f"generated the Grafana admin password in {GRAFANA_PASSWORD_FILE}")
    result = run_compose("up", "-d", "--build")
    if result.returncode != 0:
        return result.returncode
    state = wait_ready(timeout=timeout)
    print(url_table(state))
    print(f"\nGrafana admin password: {GRAFANA_PASSWORD_FILE.relative_to(topology.REPO_ROOT)}")
    if not _ready(state):
        print(f"not ready after {timeout:.0f}s: see `make logs`", file=sys.stderr)
        return 1
    return 0


def down() -> int:
    """Stop and remove the containers; the named volumes (all the data) stay."""
    return run_compose("down").returncode


def status() -> int:
    """Containers as compose sees them, then one readiness probe per component."""
    reason = compose_available()
    if reason:
        print(f"compose stack unavailable: {reason}", file=sys.stderr)
        return 1
    result = run_compose("ps", "--all")
    state = {p.component: probe(p)[1] for p in PROBES}
    state.update({name: container_health(name) for name in UNPUBLISHED})
    print()
    print(url_table(state))
    return 0 if result.returncode == 0 and _ready(state) else 1


def logs(services: Sequence[str] = (), follow: bool = True, tail: int = 200) -> int:
    """Follow the logs of every service (or of the named ones)."""
    args = ["logs", f"--tail={tail}"]
    if follow:
        args.append("--follow")
    try:
        return run_compose(*args, *services).returncode
    except KeyboardInterrupt:
        return 0


def clean() -> int:
    """Stop the stack and delete its named volumes: metrics, logs, traces, dashboards state."""
    return run_compose("down", "--volumes", "--remove-orphans").returncode
