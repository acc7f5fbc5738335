"""The committed Prometheus rule files and promtool test files, read as data.

Shared by test_promtool.py and test_amtool.py, so that the list of alerts both check is the one
Prometheus loads: a new rule is picked up by every check without touching a test.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import yaml

from ops import rulefiles
from ops.promapi import parse_duration
from ops.stack import topology
from tests.conftest import require_binary

REPO = topology.REPO_ROOT
PROMETHEUS_DIR = REPO / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
TESTS_DIR = PROMETHEUS_DIR / "tests"
ALERTMANAGER_DIR = REPO / "alertmanager"
RUNBOOKS_DIR = REPO / "docs" / "runbooks"
# what every alert's runbook_url and dashboard_url start with (docs/alerting.md)
RUNBOOK_BASE = (
    "https://github.com/marketplace-obs/marketplace-observability/blob/main/docs/runbooks/"
)
GRAFANA_BASE = f"http://localhost:{topology.load_env()['GRAFANA_HOST_PORT']}/d/"


def seconds(duration: str | int | None) -> float:
    """A Prometheus duration ("5m15s", "1d", "0m") in seconds; None or "" is 0."""
    return parse_duration(str(duration)) if duration else 0.0


@dataclass(frozen=True)
class Rule:
    file: Path
    group: str
    kind: str  # "alert" or "record"
    name: str
    expr: str
    duration: float = 0.0
    labels: dict = field(default_factory=dict, hash=False, compare=False)
    annotations: dict = field(default_factory=dict, hash=False, compare=False)

    @property
    def id(self) -> str:
        extra = ",".join(f"{k}={v}" for k, v in sorted(self.labels.items()))
        return f"{self.name}{{{extra}}}" if extra else self.name

    @property
    def unit_test_file(self) -> Path:
        return unit_test_file_for(self.file)


def rule_files() -> list[Path]:
    return rulefiles.rule_files(RULES_DIR)


def unit_test_files() -> list[Path]:
    return sorted(TESTS_DIR.glob("*.test.yml"))


def unit_test_file_for(rule_file: Path) -> Path:
    return TESTS_DIR / f"{rule_file.stem}.test.yml"


@cache
def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def rules() -> list[Rule]:
    found = []
    for path, group, rule in rulefiles.rules(rule_files()):
        kind = "alert" if "alert" in rule else "record"
        found.append(
            Rule(
                file=path,
                group=group,
                kind=kind,
                name=rule[kind],
                expr=rule["expr"],
                duration=seconds(rule.get("for")),
                labels=dict(rule.get("labels") or {}),
                annotations=dict(rule.get("annotations") or {}),
            )
        )
    return found


def alerts() -> list[Rule]:
    return [r for r in rules() if r.kind == "alert"]


def records() -> list[Rule]:
    return [r for r in rules() if r.kind == "record"]


def groups() -> list[tuple[Path, dict]]:
    return [(path, g) for path in rule_files() for g in load_yaml(path).get("groups", [])]


def alertmanager_config() -> dict:
    return load_yaml(ALERTMANAGER_DIR / "alertmanager.yml")


def run_tool(binary: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """promtool or amtool from the repository root; a missing binary fails in CI, else skips."""
    return subprocess.run(
        [require_binary(binary), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
