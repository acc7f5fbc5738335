"""The sink's own metrics, so Prometheus can see that notifications arrive."""

from __future__ import annotations

from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest

RECEIVED = Counter(
    "alertsink_notifications_total",
    "Notifications received, by receiver, kind and status.",
    ["receiver", "kind", "status"],
)
REJECTED = Counter(
    "alertsink_rejected_total",
    "Posts refused because the body was not a JSON object.",
    ["kind"],
)


def init_app(app: Flask) -> None:
    app.add_url_rule(
        "/metrics",
        "metrics",
        lambda: Response(generate_latest(), 200, {"Content-Type": CONTENT_TYPE_LATEST}),
    )
