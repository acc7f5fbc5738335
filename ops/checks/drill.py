"""The spec's "trigger test alert, verify notification" as a command.

Posts a synthetic alert to Alertmanager's API v2 with the labels of the chosen severity, works out
which receiver(s) the running routing tree sends it to, polls the alert sink until each of them has
it, and prints how long delivery took. Alertmanager holds a new group for `group_wait` (30 s in the
spec) before it sends anything, so a drill takes at least that long.

Each run's alertname carries the run's id (`MarketplaceDrill_<id>`): the routing tree groups by
alertname and component, so a drill with a fixed name would join the group of an earlier drill
still held within `group_interval` (5 m) and wait for that group's next flush instead of its own
`group_wait`.

    python -m ops.checks drill --severity critical [--timeout 120] [--keep]
"""

from __future__ import annotations

import argparse
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rich.console import Console
from rich.table import Table

from ops.checks.delivery import Delivery, await_deliveries, notifications, post_alert
from ops.checks.routing import (
    default_timeout,
    drill_labels,
    expected_receivers,
    group_wait_seconds,
    running_config,
)
from ops.polling import SYSTEM, Clock
from ops.promapi import Endpoints, OpsError
from ops.promapi import console as _console

SEVERITIES = ("critical", "warning", "info", "none")


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


def run_drill(
    endpoints: Endpoints,
    severity: str = "critical",
    alertname: str = "MarketplaceDrill",
    timeout: float | None = None,
    keep: bool = False,
    receivers: list[str] | None = None,
    clock: Clock = SYSTEM,
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
    sent = clock.time()
    starts_at = datetime.fromtimestamp(sent, UTC)
    post_alert(endpoints.alertmanager, labels, starts_at, starts_at + timedelta(minutes=10))
    deliveries = await_deliveries(
        receivers,
        lambda receiver: notifications(endpoints.alertsink, receiver, alertname),
        baseline,
        sent,
        timeout,
        clock,
    )
    if not keep:
        # Resolve at once so the drill does not linger as a firing alert.
        post_alert(
            endpoints.alertmanager, labels, starts_at, datetime.fromtimestamp(clock.time(), UTC)
        )
    return DrillResult(severity, alertname, receivers, source, deliveries, group_wait)


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
    parser = argparse.ArgumentParser(
        prog="python -m ops.checks drill", description=__doc__.split("\n")[0]
    )
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


def main(argv: list[str] | None = None, clock: Clock = SYSTEM) -> int:
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
            clock,
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
