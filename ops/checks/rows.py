"""ops.checks.verify's rows from what the components answered: pure functions, no network.

The expectations come from the repository itself: rule names from prometheus/rules/*.yml, metric
names from the table in docs/contracts.md, receiver names from alertmanager/alertmanager.yml,
dashboard uids from grafana/dashboards/*.json.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ops import rulefiles
from ops.promapi import DOCKER_ONLY
from ops.stack import topology

CONTRACTS = topology.REPO_ROOT / "docs" / "contracts.md"
RULES_DIR = rulefiles.RULES_DIR
DASHBOARDS_DIR = topology.REPO_ROOT / "grafana" / "dashboards"
ALERTMANAGER_CONFIG = topology.REPO_ROOT / "alertmanager" / "alertmanager.yml"

PASS, FAIL, SKIP = "pass", "fail", "skip"
MARKS = {PASS: "[green]✓[/]", FAIL: "[red]✗[/]", SKIP: "[dim]-[/]"}


@dataclass
class Row:
    item: str  # the checklist section the row belongs to
    check: str
    status: str
    evidence: str


def contract_metrics(text: str) -> dict[str, str]:
    """`{metric name: type}` from the metrics table of docs/contracts.md."""
    metrics: dict[str, str] = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 2 or "`marketplace_" not in cells[0]:
            continue
        kind = cells[1].split()[0] if cells[1] else "gauge"
        for name in re.findall(r"`(marketplace_[a-z0-9_]+)`", cells[0]):
            metrics[name] = kind
    return metrics


def series_name(metric: str, kind: str) -> str:
    """The series Prometheus stores for a metric: histograms are checked through `_bucket`."""
    return f"{metric}_bucket" if kind == "histogram" else metric


def rule_names(files: list[Path]) -> tuple[set[str], set[str]]:
    """(recording rule names, alert names) defined in the rule files."""
    records: set[str] = set()
    alerts: set[str] = set()
    for _, _, rule in rulefiles.rules(files):
        if "record" in rule:
            records.add(rule["record"])
        elif "alert" in rule:
            alerts.add(rule["alert"])
    return records, alerts


def rules_rows(groups: list[dict], records: set[str], alerts: set[str]) -> list[Row]:
    loaded = {"recording": set(), "alerting": set()}
    broken: list[tuple[str, str]] = []
    for group in groups:
        for rule in group.get("rules", []):
            loaded.setdefault(rule.get("type", ""), set()).add(rule["name"])
            if rule.get("health") not in (None, "ok", "unknown"):
                broken.append((rule["name"], rule.get("lastError") or rule.get("health")))
    rows = []
    for kind, label, expected in (
        ("recording", "Recording rules loaded", records),
        ("alerting", "Alert rules loaded", alerts),
    ):
        got = loaded.get(kind, set())
        missing = sorted(expected - got)
        errors = [f"{name}: {error}" for name, error in broken if name in got]
        if not got:
            rows.append(Row("Set up Prometheus", label, FAIL, "no rules of this kind are loaded"))
        elif missing or errors:
            parts = [f"missing {', '.join(missing)}"] if missing else []
            parts += [f"errors: {'; '.join(errors[:3])}"] if errors else []
            rows.append(Row("Set up Prometheus", label, FAIL, "; ".join(parts)))
        else:
            mine = [[r for r in g["rules"] if r.get("type") == kind] for g in groups]
            n_rules, n_groups = sum(map(len, mine)), sum(1 for m in mine if m)
            evidence = (
                f"{n_rules} rules ({len(got)} names) in {n_groups} groups; "
                "every one in the rule files is loaded, none failing"
            )
            rows.append(Row("Set up Prometheus", label, PASS, evidence))
    return rows


def _component_of(job: str) -> str | None:
    norm = job.replace("_", "-").lower()
    return next((c for c in DOCKER_ONLY if norm.startswith(c) or c in norm), None)


def target_rows(targets: list[dict], mode: str) -> list[Row]:
    """One row per scrape job: up/total, with the first failing target's error."""
    by_job: dict[str, list[dict]] = {}
    for target in targets:
        by_job.setdefault(target["labels"].get("job", target.get("scrapePool", "?")), []).append(
            target
        )
    rows = []
    for job in sorted(by_job):
        group = by_job[job]
        check = f"Targets up: {job}"
        component = _component_of(job)
        if mode == "native" and component:
            rows.append(
                Row(
                    "Validate metrics",
                    check,
                    SKIP,
                    f"native mode: {component} runs only under Docker",
                )
            )
            continue
        down = [t for t in group if t.get("health") != "up"]
        if not down:
            rows.append(Row("Validate metrics", check, PASS, f"{len(group)}/{len(group)} up"))
            continue
        detail = []
        for t in down[:3]:
            who = t["labels"].get("version") or t["labels"].get("instance", "?")
            detail.append(f"{who} {t.get('health')}: {t.get('lastError') or 'not scraped yet'}")
        rows.append(
            Row(
                "Validate metrics",
                check,
                FAIL,
                f"{len(group) - len(down)}/{len(group)} up; " + "; ".join(detail),
            )
        )
    if not rows:
        rows.append(Row("Validate metrics", "Targets up", FAIL, "Prometheus has no active targets"))
    return rows


def metrics_row(
    contract: dict[str, str],
    present: dict[str, set[str]],
    versions: set[str],
    exposed: dict[str, set[str]],
) -> Row:
    """Every contract metric has series for every version, or at least is exposed by it.

    A labelled counter with no events yet (e.g. errors by type) has HELP/TYPE but no sample;
    Prometheus still lists it in that target's metadata (`exposed`: version -> families), which
    proves the service exports it.
    """
    missing, exposed_only = [], []
    for metric, kind in contract.items():
        have = present.get(series_name(metric, kind), set())
        lacking = sorted(versions - have) if versions else ([] if have else ["any"])
        family = metric.removesuffix("_total")
        silent = [v for v in lacking if {metric, family} & exposed.get(v, set())]
        absent = [v for v in lacking if v not in silent]
        if absent:
            missing.append(f"{metric} ({', '.join(absent)})")
        elif silent:
            exposed_only.append(f"{metric} ({', '.join(silent)})")
    if missing:
        return Row(
            "Validate metrics",
            "Contract metrics have data",
            FAIL,
            "no series: " + "; ".join(missing),
        )
    who = ", ".join(sorted(versions)) or "the service"
    evidence = f"{len(contract)}/{len(contract)} metrics have series for {who}"
    if exposed_only:
        evidence += f"; exposed but no events yet: {', '.join(exposed_only)}"
    return Row("Validate metrics", "Contract metrics have data", PASS, evidence)


def receiver_names(config_text: str) -> list[str]:
    """Receiver names in an Alertmanager configuration, in file order."""
    config = yaml.safe_load(config_text) or {}
    return [str(r.get("name")) for r in config.get("receivers") or [] if r.get("name")]


def receivers_row(config_text: str, expected_text: str | None = None) -> Row:
    """The running config (`config_text`) has every receiver the committed file defines."""
    if expected_text is None:
        expected_text = ALERTMANAGER_CONFIG.read_text(encoding="utf-8")
    expected = receiver_names(expected_text)
    config = yaml.safe_load(config_text) or {}
    names = set(receiver_names(config_text))
    missing = [r for r in expected if r not in names]
    if missing or not expected:
        return Row(
            "Configure Alertmanager",
            "Receivers configured",
            FAIL,
            f"missing receivers: {', '.join(missing)}"
            if missing
            else f"{ALERTMANAGER_CONFIG.name} defines no receivers",
        )
    kinds = sorted(
        {
            k.removesuffix("_configs")
            for r in config["receivers"]
            for k in r
            if k.endswith("_configs")
        }
    )
    return Row(
        "Configure Alertmanager",
        "Receivers configured",
        PASS,
        f"{len(names)} receivers ({', '.join(expected)}); "
        f"integrations: {', '.join(kinds) or 'none'}",
    )


def dashboard_uids(directory: Path = DASHBOARDS_DIR) -> list[str]:
    """The uid of every dashboard file: exactly what provisioning should have loaded."""
    uids = []
    for path in sorted(directory.glob("*.json")):
        uid = json.loads(path.read_text(encoding="utf-8")).get("uid")
        if uid:
            uids.append(uid)
    return uids
