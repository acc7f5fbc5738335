"""The drill's alert on the wire: posted to (and resolved at) Alertmanager, then looked for at
the alert sink until every expected receiver has it or the timeout passes. Time comes from an
injected ops.polling.Clock, so the tests need no real waiting.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ops.polling import SYSTEM, Clock, polls
from ops.promapi import OpsError, get_json, http

POLL_SECONDS = 0.25


@dataclass
class Delivery:
    receiver: str
    kinds: list[str] = field(default_factory=list)
    seconds: float | None = None  # None: not delivered before the deadline


def _stamp(at: datetime) -> str:
    # Always with microseconds: a whole second would drop them and sort wrongly as text.
    return at.isoformat(timespec="microseconds").replace("+00:00", "Z")


def post_alert(
    alertmanager_url: str, labels: dict[str, str], starts_at: datetime, ends_at: datetime
) -> None:
    """Send (or, with ends_at in the past, resolve) the alert; the same startsAt both times."""
    alert = {
        "labels": labels,
        "annotations": {
            "summary": f"Drill: synthetic {labels['severity']} alert (make drill)",
            "description": "Sent by `make drill` to prove the notification path; no action needed.",
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


def await_deliveries(
    receivers: list[str],
    fetch,
    baseline: dict[str, int],
    sent: float,
    timeout: float,
    clock: Clock = SYSTEM,
) -> list[Delivery]:
    """Poll `fetch(receiver)` (the sink's notifications) until each receiver has a new firing one.

    A receiver not reached before `timeout` keeps seconds=None.
    """
    deliveries = {r: Delivery(receiver=r) for r in receivers}
    for _ in polls(timeout, POLL_SECONDS, clock):
        for receiver, delivery in deliveries.items():
            if delivery.seconds is not None:
                continue
            fresh = new_firing(baseline[receiver], fetch(receiver), sent)
            if fresh:
                at = _received_epoch(fresh[0]) or clock.time()
                delivery.seconds = round(max(0.0, at - sent), 2)
                delivery.kinds = sorted({str(n.get("kind", "?")) for n in fresh})
        if all(d.seconds is not None for d in deliveries.values()):
            # A second kind (Slack after PagerDuty) may land a moment later; give it one poll.
            clock.sleep(POLL_SECONDS * 2)
            for receiver, delivery in deliveries.items():
                fresh = new_firing(baseline[receiver], fetch(receiver), sent)
                delivery.kinds = sorted({str(n.get("kind", "?")) for n in fresh})
            break
    return list(deliveries.values())
