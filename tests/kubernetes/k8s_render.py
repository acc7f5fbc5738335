"""The kustomizations as `kubectl kustomize` renders them (offline), and the generated files."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import yaml

from ops.stack import topology
from tests.conftest import require_binary

REPO = topology.REPO_ROOT
DEPLOY = REPO / "deploy"
KUSTOMIZATION = DEPLOY / "kubernetes"
LOADGEN = KUSTOMIZATION / "loadgen"
WORKLOADS = {"Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"}


def kustomize(path: Path) -> list[dict]:
    result = subprocess.run(
        [require_binary("kubectl"), "kustomize", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@cache
def _rendered(path: str) -> tuple[dict, ...]:
    return tuple(kustomize(Path(path)))


def rendered(path: Path = KUSTOMIZATION) -> list[dict]:
    """The render of a kustomization, once per session (each test reads, never changes, it)."""
    return list(_rendered(str(path)))


def of_kind(resources: list[dict], kind: str) -> list[dict]:
    return [r for r in resources if r["kind"] == kind]


def named(resources: list[dict], kind: str, name: str) -> dict:
    (found,) = [r for r in of_kind(resources, kind) if r["metadata"]["name"] == name]
    return found


def pod_specs(resources: list[dict]) -> list[tuple[str, dict]]:
    """(workload name, pod spec) of every workload."""
    specs = []
    for r in resources:
        if r["kind"] in WORKLOADS:
            template = r["spec"]["template"] if r["kind"] != "CronJob" else r["spec"]["jobTemplate"]
            specs.append((r["metadata"]["name"], template["spec"]))
    return specs


def containers(spec: dict) -> list[dict]:
    return [*spec.get("initContainers", []), *spec["containers"]]


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def generated_values(chart: str) -> dict:
    return load(DEPLOY / "helm" / chart / "generated.yaml")
