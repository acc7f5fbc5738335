"""The API's own description: `/` (a small JSON index of the endpoints) and `/openapi.json`.

Both come from one document, service/marketplace/openapi.json, kept in the repository and
shipped as package data; tests/unit/test_openapi.py holds it to the app's URL map.
"""

from __future__ import annotations

import functools
import json
from importlib import resources

from flask import Blueprint, current_app, jsonify

bp = Blueprint("apidoc", __name__)

DOCUMENT = "openapi.json"
OPERATIONS = ("get", "put", "post", "delete", "patch")


@functools.cache
def document() -> dict:
    """The OpenAPI document as committed; read once per process."""
    return json.loads((resources.files("marketplace") / DOCUMENT).read_text(encoding="utf-8"))


@functools.cache
def _served(version: str) -> bytes:
    served = {**document(), "info": {**document()["info"], "version": version}}
    return json.dumps(served, ensure_ascii=False, separators=(",", ":")).encode()


def endpoints() -> list[dict]:
    return [
        {"method": method.upper(), "path": path, "summary": operation["summary"]}
        for path, item in document()["paths"].items()
        for method, operation in item.items()
        if method in OPERATIONS
    ]


@bp.get("/")
def index():
    mp = current_app.extensions["marketplace"]
    return jsonify(
        service="marketplace",
        variant=mp.settings.variant,
        version=mp.version,
        openapi="/openapi.json",
        endpoints=endpoints(),
    )


@bp.get("/openapi.json")
def openapi():
    return current_app.response_class(
        _served(current_app.extensions["marketplace"].version), mimetype="application/json"
    )
