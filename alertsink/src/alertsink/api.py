"""What the sink received, as JSON for tests and people, plus its health endpoint."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request

from alertsink.parse import KINDS
from alertsink.store import get_store

bp = Blueprint("api", __name__)


@bp.get("/api/notifications")
def list_notifications():
    kind = request.args.get("kind") or None
    if kind is not None and kind not in KINDS:
        abort(400, description=f"kind must be one of {', '.join(KINDS)}")
    items = get_store().query(
        receiver=request.args.get("receiver") or None,
        kind=kind,
        alertname=request.args.get("alertname") or None,
        status=request.args.get("status") or None,
    )
    return jsonify(items)


@bp.delete("/api/notifications")
def clear_notifications():
    return jsonify(deleted=get_store().clear())


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")
