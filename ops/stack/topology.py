"""Where each component listens, read from the repository's `.env` (the one place ports live).

Two views of the same table:
- inside the stack, a component is `<compose service>:<port>` (what prometheus.yml and friends say);
- from the host, a component is `http://127.0.0.1:<host port>`, unless `<NAME>_URL` in the
  environment points elsewhere (how tests and remote stacks redirect every command).
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
ENV_FILE = REPO_ROOT / ".env"

# component -> (.env key of its in-network port, .env key of its published host port)
COMPONENTS: dict[str, tuple[str, str | None]] = {
    "marketplace-v1": ("MARKETPLACE_PORT", "MARKETPLACE_V1_HOST_PORT"),
    "marketplace-v2": ("MARKETPLACE_PORT", "MARKETPLACE_V2_HOST_PORT"),
    "alertsink": ("ALERTSINK_PORT", "ALERTSINK_HOST_PORT"),
    "prometheus": ("PROMETHEUS_PORT", "PROMETHEUS_HOST_PORT"),
    "alertmanager": ("ALERTMANAGER_PORT", "ALERTMANAGER_HOST_PORT"),
    "grafana": ("GRAFANA_PORT", "GRAFANA_HOST_PORT"),
    "loki": ("LOKI_PORT", "LOKI_HOST_PORT"),
    "tempo": ("TEMPO_PORT", "TEMPO_HOST_PORT"),
    "promtail": ("PROMTAIL_PORT", None),
    "otel-collector": ("OTEL_COLLECTOR_OTLP_HTTP_PORT", "OTEL_COLLECTOR_OTLP_HTTP_HOST_PORT"),
}


def load_env(path: Path = ENV_FILE) -> dict[str, str]:
    """KEY=VALUE lines of a dotenv file; comments and blank lines ignored, no interpolation."""
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def internal_address(component: str, env: dict[str, str] | None = None) -> str:
    """`host:port` of a component inside the compose network."""
    env = env or load_env()
    port_key, _ = COMPONENTS[component]
    return f"{component}:{env[port_key]}"


def env_var_for(component: str) -> str:
    """The environment variable that overrides a component's host-side URL."""
    return component.upper().replace("-", "_") + "_URL"


def host_url(component: str, env: dict[str, str] | None = None) -> str:
    """Base URL of a component as seen from the host: `<NAME>_URL`, else the published port."""
    override = os.environ.get(env_var_for(component))
    if override:
        return override.rstrip("/")
    env = env or load_env()
    _, host_key = COMPONENTS[component]
    if host_key is None:
        raise KeyError(f"{component} publishes no port on the host")
    return f"http://127.0.0.1:{env[host_key]}"


# The native launcher (ops/stack/launcher.py) runs these itself, plus the load generator (no port);
# the others exist only in the compose stack.
NATIVE_COMPONENTS = ("alertsink", "marketplace-v1", "marketplace-v2", "alertmanager", "prometheus")
DOCKER_ONLY = ("grafana", "loki", "promtail", "tempo", "otel-collector")


def host_port(component: str, env: dict[str, str] | None = None) -> int:
    """The port a component publishes on the host, from `.env`."""
    env = env or load_env()
    _, host_key = COMPONENTS[component]
    if host_key is None:
        raise KeyError(f"{component} publishes no port on the host")
    return int(env[host_key])
