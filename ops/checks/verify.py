"""The spec's deployment checklist, every item a machine can check, as one ✓/✗ table.

Each row names the checklist item and the evidence. Items that cannot be checked in the current
mode (Grafana, Loki and the Collector run only under Docker) are skipped with the reason. The exit
status is 1 when any row fails.

    python -m ops.checks verify [--mode auto|native|docker] [--no-alert] [--format table|json]
"""

from __future__ import annotations

import argparse
import json
import socket
from collections.abc import Callable
from dataclasses import asdict
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table

from ops import rulefiles
from ops.checks import drill
from ops.checks.rows import (
    CONTRACTS,
    FAIL,
    MARKS,
    PASS,
    RULES_DIR,
    SKIP,
    Row,
    contract_metrics,
    dashboard_uids,
    metrics_row,
    receivers_row,
    rule_names,
    rules_rows,
    series_name,
    target_rows,
)
from ops.promapi import Endpoints, OpsError, Prometheus, console, get_json, http

# ---------------------------------------------------------------- live checks


def _guard(item: str, check: str, fn: Callable[[], list[Row] | Row]) -> list[Row]:
    try:
        result = fn()
    except OpsError as exc:
        return [Row(item, check, FAIL, str(exc))]
    return result if isinstance(result, list) else [result]


def check_otlp(ep: Endpoints, mode: str) -> Row:
    item, check = "Configure OTLP exporter", "OTLP endpoint reachable"
    if mode == "native" and not ep.otlp_explicit:
        return Row(
            item,
            check,
            SKIP,
            "native mode: no Collector (set OTEL_EXPORTER_OTLP_ENDPOINT to check one)",
        )
    parts = urlsplit(ep.otlp if "://" in ep.otlp else f"http://{ep.otlp}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((parts.hostname, port), timeout=3):
            pass
    except OSError as exc:
        return Row(item, check, FAIL, f"{parts.hostname}:{port}: {exc.strerror or exc}")
    return Row(item, check, PASS, f"{parts.hostname}:{port} accepts connections ({ep.otlp})")


def check_ready(item: str, name: str, url: str) -> Row:
    response = http("GET", url)
    if response.status_code != 200:
        return Row(item, f"{name} ready", FAIL, f"{url}: HTTP {response.status_code}")
    return Row(item, f"{name} ready", PASS, f"{url}: {response.text.strip()[:60] or 'HTTP 200'}")


def check_metrics(prom: Prometheus, contract: dict[str, str]) -> Row:
    names = "|".join(sorted(series_name(m, k) for m, k in contract.items()))
    result = prom.query(
        f'count by (__name__, version) ({{__name__=~"{names}", job="marketplace"}})'
    )
    present: dict[str, set[str]] = {}
    for sample in result:
        present.setdefault(sample["metric"]["__name__"], set()).add(
            sample["metric"].get("version", "")
        )
    # A variant whose target is down fails its "Targets up" row; its stale series are not
    # counted against it a second time here.
    scraped = [
        t
        for t in prom.targets()
        if t["labels"].get("job") == "marketplace" and "version" in t["labels"]
    ]
    versions = {t["labels"]["version"] for t in scraped if t.get("health") == "up"}
    down = sorted({t["labels"]["version"] for t in scraped} - versions)
    exposed: dict[str, set[str]] = {}
    for entry in prom.target_metadata('{job="marketplace"}'):
        version = entry.get("target", {}).get("version", "")
        exposed.setdefault(version, set()).add(entry["metric"])
    row = metrics_row(contract, present, versions, exposed)
    if down:
        row.evidence += f" ({', '.join(down)} not checked: target down)"
    return row


def check_dashboards(ep: Endpoints, mode: str) -> Row:
    item, check = "Create Grafana dashboards", "Dashboards provisioned"
    if mode == "native":
        return Row(item, check, SKIP, "native mode: Grafana runs only under Docker")
    found, missing = [], []
    uids = dashboard_uids()
    if not uids:
        return Row(item, check, FAIL, "no dashboard with a uid in grafana/dashboards/*.json")
    for uid in uids:
        response = http("GET", f"{ep.grafana}/api/dashboards/uid/{uid}")
        if response.status_code == 200:
            found.append(f"{uid} ({response.json().get('dashboard', {}).get('title', '?')})")
        else:
            missing.append(f"{uid}: HTTP {response.status_code}")
    if missing:
        return Row(item, check, FAIL, "; ".join(missing))
    return Row(item, check, PASS, "; ".join(found))


def check_logs(ep: Endpoints, mode: str) -> Row:
    item, check = "Enable logging", "Logs ingested"
    if mode == "native":
        return Row(
            item, check, SKIP, "native mode: Loki runs only under Docker (logs are files in .run/)"
        )
    body = get_json(
        f"{ep.loki}/loki/api/v1/query",
        params={"query": 'sum(count_over_time({service="marketplace"}[15m]))'},
        timeout=15,
    )
    result = body.get("data", {}).get("result", [])
    lines = float(result[0]["value"][1]) if result else 0.0
    if lines <= 0:
        return Row(
            item, check, FAIL, 'no lines for {service="marketplace"} in Loki in the last 15m'
        )
    return Row(
        item, check, PASS, f'{lines:.0f} lines from {{service="marketplace"}} in the last 15m'
    )


def check_alert(ep: Endpoints, severity: str, timeout: float | None) -> Row:
    item, check = "Test alerts", f"Test alert delivered ({severity})"
    result = drill.run_drill(ep, severity=severity, alertname="MarketplaceVerify", timeout=timeout)
    done = [
        f"{d.receiver} via {'+'.join(d.kinds)} in {d.seconds:.1f}s"
        for d in result.deliveries
        if d.seconds is not None
    ]
    lost = [d.receiver for d in result.deliveries if d.seconds is None]
    if lost:
        return Row(
            item,
            check,
            FAIL,
            f"not at {', '.join(lost)} after the timeout"
            + (f"; {'; '.join(done)}" if done else ""),
        )
    return Row(item, check, PASS, "; ".join(done))


def run_checks(
    ep: Endpoints,
    mode: str,
    alert: bool = True,
    severity: str = "info",
    alert_timeout: float | None = None,
) -> list[Row]:
    prom = Prometheus(ep.prometheus)
    records, alerts = rule_names(rulefiles.rule_files(RULES_DIR))
    contract = contract_metrics(CONTRACTS.read_text(encoding="utf-8"))
    rows: list[Row] = []
    rows += [check_otlp(ep, mode)]
    rows += _guard(
        "Set up Prometheus",
        "Prometheus ready",
        lambda: check_ready("Set up Prometheus", "Prometheus", f"{ep.prometheus}/-/ready"),
    )
    rows += _guard(
        "Set up Prometheus", "Rules loaded", lambda: rules_rows(prom.rules(), records, alerts)
    )
    rows += _guard("Validate metrics", "Targets up", lambda: target_rows(prom.targets(), mode))
    rows += _guard(
        "Validate metrics", "Contract metrics have data", lambda: check_metrics(prom, contract)
    )
    rows += _guard(
        "Create Grafana dashboards", "Dashboards provisioned", lambda: check_dashboards(ep, mode)
    )
    rows += _guard(
        "Configure Alertmanager",
        "Alertmanager ready",
        lambda: check_ready("Configure Alertmanager", "Alertmanager", f"{ep.alertmanager}/-/ready"),
    )
    rows += _guard(
        "Configure Alertmanager",
        "Receivers configured",
        lambda: receivers_row(get_json(f"{ep.alertmanager}/api/v2/status")["config"]["original"]),
    )
    rows += _guard(
        "Test alerts",
        "Alert sink ready",
        lambda: check_ready("Test alerts", "Alert sink", f"{ep.alertsink}/healthz"),
    )
    if alert:
        rows += _guard(
            "Test alerts",
            f"Test alert delivered ({severity})",
            lambda: check_alert(ep, severity, alert_timeout),
        )
    else:
        rows.append(Row("Test alerts", f"Test alert delivered ({severity})", SKIP, "--no-alert"))
    rows += _guard("Enable logging", "Logs ingested", lambda: check_logs(ep, mode))
    return rows


def render(rows: list[Row], mode: str, console: Console) -> None:
    table = Table(title=f"Deployment checklist ({mode} mode)")
    table.add_column("", justify="center")
    table.add_column("Checklist item", style="dim")
    table.add_column("Check")
    table.add_column("Evidence", overflow="fold")
    for row in rows:
        table.add_row(MARKS[row.status], row.item, row.check, row.evidence)
    console.print(table)
    counts = {s: sum(1 for r in rows if r.status == s) for s in (PASS, FAIL, SKIP)}
    console.print(f"{counts[PASS]} passed, {counts[FAIL]} failed, {counts[SKIP]} skipped")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops.checks verify", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--mode",
        choices=("auto", "native", "docker"),
        default="auto",
        help="which stack is running (auto: as `make up` decides)",
    )
    parser.add_argument("--no-alert", action="store_true", help="skip the test alert")
    parser.add_argument(
        "--alert-severity",
        choices=drill.SEVERITIES,
        default="info",
        help="severity of the test alert (info: reaches a channel, pages nobody)",
    )
    parser.add_argument("--alert-timeout", type=float, help="seconds to wait for the test alert")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    return parser


def main(argv: list[str] | None = None) -> int:
    from ops.promapi import detect_mode

    args = build_parser().parse_args(argv)
    mode = detect_mode(args.mode)
    rows = run_checks(
        Endpoints.from_env(), mode, not args.no_alert, args.alert_severity, args.alert_timeout
    )
    if args.format == "json":
        print(json.dumps({"mode": mode, "rows": [asdict(r) for r in rows]}, indent=2))
    else:
        render(rows, mode, console())
    return 1 if any(r.status == FAIL for r in rows) else 0
