"""The spec's "trigger test alert, verify notification" as a command.

Posts a synthetic alert to Alertmanager's API v2 with the labels of the chosen severity, works out
which receiver(s) the running routing tree sends it to, polls the alert sink until each of them has
it, and prints how long delivery took. Alertmanager holds a new group for `group_wait` (30 s in the
spec) before it sends anything, so a drill takes at least that long.

Each run's alertname carries the run's id (`MarketplaceDrill_<id>`): the routing tree groups by
alertname and component, so a drill with a fixed name would join the group of an earlier drill
still held within `group_interval` (5 m) and wait for that group's next flush instead of its own
`group_wait`.

    python -m ops.drill --severity critical [--timeout 120] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from ops import topology
from ops._http import Endpoints, OpsError, get_json, http, parse_duration
from ops._http import console as _console

ALERTMANAGER_CONFIG = topology.REPO_ROOT / "alertmanager" / "alertmanager.yml"
SEVERITIES = ("critical", "warning", "info", "none")
POLL_SECONDS = 0.25
ROUTING_LABELS = ("alertname", "severity", "component")
DEFAULT_GROUP_WAIT = 30.0  # Alertmanager's own default when a route names none
# Beyond group_wait: the notification itself (a retry after a refused one backs off for seconds),
# the sink's bookkeeping and our polling.
TIMEOUT_MARGIN = 30.0


@dataclass
class Delivery:
    receiver: str
    kinds: list[str] = field(default_factory=list)
    seconds: float | None = None  # None: not delivered before the deadline


@dataclass
class DrillResult:
    severity: str
    alertname: str
    receivers: list[str]
    receivers_source: str
    deliveries: list[Delivery]
    group_wait: float | None

    @property
    def ok(self) -> bool:
        return all(d.seconds is not None for d in self.deliveries)

    def to_dict(self) -> dict:
        return {
            "severity": self.severity,
            "alertname": self.alertname,
            "expected_receivers": self.receivers,
            "receivers_source": self.receivers_source,
            "group_wait_seconds": self.group_wait,
            "delivered": self.ok,
            "deliveries": [d.__dict__ for d in self.deliveries],
        }


def drill_labels(severity: str, alertname: str, drill_id: str) -> dict[str, str]:
    return {
        "alertname": alertname,
        "severity": severity,
        "component": "marketplace",
        "drill_id": drill_id,
        # Inhibition rules compare `family` (and version): a family of its own keeps a drill from
        # muting, or being muted by, real alerts and other drills.
        "family": f"drill-{drill_id}",
    }


_MATCHER = re.compile(r"""^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$""")


def _matches(route: dict, labels: dict[str, str]) -> bool:
    """Whether a route's matchers (and the older match/match_re) accept these labels."""
    tests: list[tuple[str, str, str]] = []
    for text in route.get("matchers") or []:
        found = _MATCHER.match(str(text))
        if found:
            tests.append(found.groups())
    tests += [(k, "=", str(v)) for k, v in (route.get("match") or {}).items()]
    tests += [(k, "=~", str(v)) for k, v in (route.get("match_re") or {}).items()]
    for name, op, value in tests:
        have = labels.get(name, "")
        hit = have == value if op in ("=", "!=") else re.fullmatch(value, have) is not None
        if hit is (op in ("!=", "!~")):
            return False
    return True


def route_receivers(config: dict, labels: dict[str, str]) -> list[str]:
    """Receivers Alertmanager's routing tree picks for these labels (as amtool walks it)."""

    def walk(route: dict, inherited: str) -> list[str]:
        receiver = route.get("receiver") or inherited
        found: list[str] = []
        for child in route.get("routes") or []:
            if _matches(child, labels):
                found += walk(child, receiver)
                if not child.get("continue", False):
                    break
        return found or [receiver]

    return list(dict.fromkeys(walk(config.get("route") or {}, "")))


def running_config(alertmanager_url: str) -> str | None:
    """The configuration the running Alertmanager loaded (/api/v2/status), None if unavailable."""
    try:
        text = get_json(f"{alertmanager_url}/api/v2/status")["config"]["original"]
    except (OpsError, KeyError, TypeError):
        return None
    return text if isinstance(text, str) and text.strip() else None


def parse_amtool_receivers(output: str) -> list[str]:
    """Receiver names from `amtool config routes test` (comma separated, one line)."""
    line = output.strip().splitlines()[-1] if output.strip() else ""
    return [name.strip() for name in line.split(",") if name.strip()]


def _amtool_receivers(amtool: str, config: Path, labels: dict[str, str]) -> list[str]:
    args = [amtool, "config", "routes", "test", f"--config.file={config}"]
    args += [f"{key}={value}" for key, value in labels.items() if key in ROUTING_LABELS]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_amtool_receivers(done.stdout) if done.returncode == 0 else []


def expected_receivers(
    labels: dict[str, str],
    config: Path = ALERTMANAGER_CONFIG,
    amtool: str | None = None,
    running: str | None = None,
) -> tuple[list[str], str]:
    """Receivers the routing tree picks for these labels, and where that answer came from.

    `running` is the running Alertmanager's configuration: a deployment that drifted from the
    repository is judged by what it runs. The committed file stands in only when that is unknown.
    """
    amtool = amtool or shutil.which("amtool")
    if running is not None:
        text, where = running, "the running config (/api/v2/status)"
    elif config.exists():
        text, where = config.read_text(encoding="utf-8"), config.name
    else:
        raise OpsError(f"no running Alertmanager config and no {config}: cannot route the drill")
    if amtool:
        with tempfile.TemporaryDirectory(prefix="drill-") as tmp:
            path = Path(tmp) / "alertmanager.yml"
            path.write_text(text, encoding="utf-8")
            names = _amtool_receivers(amtool, path, labels)
        if names:
            return names, f"amtool config routes test on {where}"
    try:
        parsed = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise OpsError(f"{where} is not YAML: {exc}") from exc
    return route_receivers(parsed, labels), f"routing tree of {where} (amtool unavailable)"


def group_wait_seconds(config_text: str | None) -> float | None:
    """The longest group_wait anywhere in a routing tree: a drill waits at most that long."""
    if config_text is None:
        return None
    try:
        root = (yaml.safe_load(config_text) or {}).get("route") or {}
    except (yaml.YAMLError, AttributeError):
        return None
    waits: list[float] = []

    def walk(route: dict, inherited: str) -> None:
        wait = str(route.get("group_wait") or inherited)
        with contextlib.suppress(ValueError):  # a bad duration: Alertmanager refused it anyway
            waits.append(parse_duration(wait))
        for child in route.get("routes") or []:
            walk(child, wait)

    walk(root, f"{DEFAULT_GROUP_WAIT:g}s")
    return max(waits) if waits else None


def default_timeout(group_wait: float | None) -> float:
    """A drill is a group of its own: it is sent once group_wait has passed, plus the margin."""
    wait = DEFAULT_GROUP_WAIT if group_wait is None else group_wait
    return wait + max(TIMEOUT_MARGIN, wait)


def _stamp(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def post_alert(
    alertmanager_url: str, labels: dict[str, str], starts_at: datetime, ends_at: datetime
) -> None:
    """Send (or, with ends_at in the past, resolve) the alert; the same startsAt both times."""
    alert = {
        "labels": labels,
        "annotations": {
            "summary": f"Drill: synthetic {labels['severity']} alert (make drill)",
            "description": "Sent by ops.drill to prove the notification path; no action needed.",
        },
        "startsAt": _stamp(starts_at),
        "endsAt": _stamp(ends_at),
    }
    response = http("POST", f"{alertmanager_url}/api/v2/alerts", json=[alert], timeout=10)
    if response.status_code >= 300:
        raise OpsError(
            f"alertmanager refused the alert: HTTP {response.status_code} {response.text[:200]}"
        )


def notifications(sink_url: str, receiver: str, alertname: str) -> list[dict]:
    body = get_json(
        f"{sink_url}/api/notifications", params={"receiver": receiver, "alertname": alertname}
    )
    items = body.get("notifications", []) if isinstance(body, dict) else body
    return [n for n in items if n.get("receiver") == receiver]


def _received_epoch(note: dict) -> float | None:
    value = note.get("received_at")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def new_firing(before: int, items: list[dict], sent: float) -> list[dict]:
    """Firing notifications that arrived after the alert was sent.

    By the sink's received_at when it has one (robust to another client clearing the sink),
    else by position after the `before` notifications seen before sending.
    """
    stamps = [_received_epoch(n) for n in items]
    if items and all(s is not None for s in stamps):
        fresh = [n for n, s in zip(items, stamps, strict=True) if s >= sent - 1.0]
    else:
        fresh = items[before:]
    return [n for n in fresh if str(n.get("status", "firing")) != "resolved"]


def run_drill(
    endpoints: Endpoints,
    severity: str = "critical",
    alertname: str = "MarketplaceDrill",
    timeout: float | None = None,
    keep: bool = False,
    receivers: list[str] | None = None,
) -> DrillResult:
    drill_id = uuid.uuid4().hex[:12]
    # A name of its own makes the drill a new group (group_by: [alertname, component]); `_` and
    # not `-`, so the sink still reads the name out of Slack and PagerDuty text.
    alertname = f"{alertname}_{drill_id}"
    labels = drill_labels(severity, alertname, drill_id)
    config_text = running_config(endpoints.alertmanager)
    if receivers:
        source = "--receiver"
    else:
        receivers, source = expected_receivers(labels, running=config_text)
    group_wait = group_wait_seconds(config_text)
    if timeout is None:
        timeout = default_timeout(group_wait)

    baseline = {r: len(notifications(endpoints.alertsink, r, alertname)) for r in receivers}
    sent = time.time()
    starts_at = datetime.now(UTC)
    post_alert(endpoints.alertmanager, labels, starts_at, starts_at + timedelta(minutes=10))
    deliveries = {r: Delivery(receiver=r) for r in receivers}

    def _notes(receiver: str) -> list[dict]:
        return notifications(endpoints.alertsink, receiver, alertname)

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for receiver, delivery in deliveries.items():
            if delivery.seconds is not None:
                continue
            fresh = new_firing(baseline[receiver], _notes(receiver), sent)
            if fresh:
                at = _received_epoch(fresh[0]) or time.time()
                delivery.seconds = round(max(0.0, at - sent), 2)
                delivery.kinds = sorted({str(n.get("kind", "?")) for n in fresh})
        if all(d.seconds is not None for d in deliveries.values()):
            # A second kind (Slack after PagerDuty) may land a moment later; give it one poll.
            time.sleep(POLL_SECONDS * 2)
            for receiver, delivery in deliveries.items():
                fresh = new_firing(baseline[receiver], _notes(receiver), sent)
                delivery.kinds = sorted({str(n.get("kind", "?")) for n in fresh})
            break
        time.sleep(POLL_SECONDS)
    if not keep:
        # Resolve at once so the drill does not linger as a firing alert.
        post_alert(endpoints.alertmanager, labels, starts_at, datetime.now(UTC))
    return DrillResult(
        severity, alertname, receivers, source, list(deliveries.values()), group_wait
    )


def render(result: DrillResult, console: Console) -> None:
    wait = f"{result.group_wait:g}s" if result.group_wait is not None else "unknown"
    console.print(
        f"Drill [bold]{result.alertname}[/] severity=[bold]{result.severity}[/] "
        f"component=marketplace; Alertmanager group_wait {wait}"
    )
    console.print(
        f"Expected receivers: {', '.join(result.receivers)} (from {result.receivers_source})"
    )
    table = Table(title="Delivery to the alert sink")
    table.add_column("")
    table.add_column("Receiver")
    table.add_column("Arrived as")
    table.add_column("Delivery time", justify="right")
    for d in result.deliveries:
        mark = "[green]✓[/]" if d.seconds is not None else "[red]✗[/]"
        took = f"{d.seconds:.2f} s" if d.seconds is not None else "not delivered"
        table.add_row(mark, d.receiver, ", ".join(d.kinds) or "-", took)
    console.print(table)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops.drill", description=__doc__.split("\n")[0])
    parser.add_argument("--severity", choices=SEVERITIES, default="critical")
    parser.add_argument(
        "--alertname",
        default="MarketplaceDrill",
        help="name prefix; each run adds _<drill id> so that it is a notification group of its own",
    )
    parser.add_argument(
        "--receiver",
        action="append",
        help="expected receiver (repeatable); "
        "default: ask amtool about the running Alertmanager's config",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        help="seconds to wait (default: the running group_wait + max(30, group_wait))",
    )
    parser.add_argument("--keep", action="store_true", help="leave the alert firing afterwards")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = _console()
    try:
        result = run_drill(
            Endpoints.from_env(),
            args.severity,
            args.alertname,
            args.timeout,
            args.keep,
            args.receiver,
        )
    except OpsError as exc:
        console.print(f"[red]drill failed:[/] {exc}")
        return 2
    if args.format == "json":
        import json

        print(json.dumps(result.to_dict(), indent=2))
    else:
        render(result, console)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
