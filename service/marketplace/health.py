"""Probes and the Prometheus endpoint."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, request
from prometheus_client.exposition import choose_encoder

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Alive: the process answers. Says nothing about the catalog."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready: the catalog is loaded (and, for v2, indexed)."""
    mp = current_app.extensions["marketplace"]
    if mp.store is None:
        abort(503, "the catalog is still loading")
    return jsonify(status="ready", variant=mp.settings.variant, packages=mp.store.package_count)


@bp.get("/metrics")
def metrics():
    # OpenMetrics when the scraper asks for it (Prometheus does): the only format with exemplars.
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    registry = current_app.extensions["marketplace"].metrics.registry
    return encoder(registry), 200, {"Content-Type": content_type}
