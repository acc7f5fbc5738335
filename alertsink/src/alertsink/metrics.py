"""The sink's own metrics, so Prometheus can see that notifications arrive."""

from __future__ import annotations

from flask import Flask, Response, current_app
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest

# The `receiver` label value of posts to a receiver name the sink was not told about.
OTHER = "other"

RECEIVED = Counter(
    "alertsink_notifications_total",
    "Notifications received, by receiver (known ones, else `other`), kind and status.",
    ["receiver", "kind", "status"],
)
REJECTED = Counter(
    "alertsink_rejected_total",
    "Posts refused because the body was not a JSON object.",
    ["kind"],
)


def parse_receivers(value) -> frozenset[str]:
    """Receiver names from a comma-separated string (the environment) or a list (tests)."""
    items = value.split(",") if isinstance(value, str) else value
    return frozenset(name.strip() for name in items if name and name.strip())


def receiver_label(receiver: str) -> str:
    """The URL's receiver if it is a known one, else `other`: the label set stays bounded."""
    return receiver if receiver in current_app.extensions["alertsink.receivers"] else OTHER


def init_app(app: Flask) -> None:
    receivers = parse_receivers(app.config["RECEIVERS"])
    if not receivers or OTHER in receivers:
        raise ValueError(f"RECEIVERS must name receivers other than {OTHER!r}: {receivers}")
    app.extensions["alertsink.receivers"] = receivers
    app.add_url_rule(
        "/metrics",
        "metrics",
        lambda: Response(generate_latest(), 200, {"Content-Type": CONTENT_TYPE_LATEST}),
    )
