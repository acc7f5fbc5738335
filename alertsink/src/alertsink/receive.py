"""The endpoints Alertmanager posts to, one per notification kind, named by receiver."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from alertsink import metrics
from alertsink.parse import summarise
from alertsink.store import get_store

bp = Blueprint("receive", __name__)


def _record(receiver: str, kind: str):
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        metrics.REJECTED.labels(kind=kind).inc()
        return None
    alertnames, status = summarise(kind, payload)
    label = metrics.receiver_label(receiver)
    metrics.RECEIVED.labels(receiver=label, kind=kind, status=status).inc()
    return get_store().add(receiver, kind, alertnames, status, payload)


@bp.post("/slack/<receiver>")
def slack(receiver: str):
    entry = _record(receiver, "slack")
    if entry is None:
        return "invalid_payload", 400, {"Content-Type": "text/plain"}
    # What Slack's incoming webhooks answer.
    return "ok", 200, {"Content-Type": "text/plain"}


@bp.post("/pagerduty/<receiver>/v2/enqueue")
def pagerduty(receiver: str):
    entry = _record(receiver, "pagerduty")
    if entry is None:
        return jsonify(status="invalid event", message="Event object is invalid"), 400
    # What the PagerDuty Events API v2 answers.
    dedup_key = entry["payload"].get("dedup_key") or str(entry["id"])
    return jsonify(status="success", message="Event processed", dedup_key=dedup_key), 202


@bp.post("/webhook/<receiver>")
def webhook(receiver: str):
    entry = _record(receiver, "webhook")
    if entry is None:
        return jsonify(status="error", message="expected a JSON object"), 400
    return jsonify(status="ok", id=entry["id"])
