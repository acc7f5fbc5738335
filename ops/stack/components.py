"""What each native component is: its binary, readiness path and start order.

ops.stack.launcher starts them; the preflight checks the same binaries and ports before it does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from ops.stack import render, topology

LOADGEN = "loadgen"
# Start order; the load generator waits for the marketplace itself (--wait-ready).
COMPONENTS = (*topology.NATIVE_COMPONENTS, LOADGEN)
READY_PATHS = {
    "alertsink": "/healthz",
    "marketplace-v1": "/readyz",
    "marketplace-v2": "/readyz",
    "alertmanager": "/-/ready",
    "prometheus": "/-/ready",
}
BINARIES = {
    "prometheus": ("prometheus",),
    "alertmanager": ("prometheus-alertmanager", "alertmanager"),
}


def receiver_names(alertmanager_yml: Path = render.ALERTMANAGER_DIR / "alertmanager.yml") -> str:
    """The receivers alertmanager.yml names, comma-separated: the sink's metric label values."""
    config = yaml.safe_load(alertmanager_yml.read_text(encoding="utf-8"))
    return ",".join(receiver["name"] for receiver in config.get("receivers", []))


class StackError(RuntimeError):
    """A component could not be started or did not become ready."""


def binary(component: str) -> str:
    for name in BINARIES[component]:
        if path := shutil.which(name):
            return path
    raise StackError(
        f"{component}: none of {', '.join(BINARIES[component])} is installed "
        "(apt-get install prometheus prometheus-alertmanager)"
    )


def host_ports(env: dict[str, str] | None = None) -> dict[str, int]:
    """The host ports `.env` publishes, which `make up` also uses natively."""
    env = env or topology.load_env()
    return {name: topology.host_port(name, env) for name in topology.NATIVE_COMPONENTS}
