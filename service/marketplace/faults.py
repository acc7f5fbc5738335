"""Fault injection, so alerts can be demonstrated: latency, errors and cache bypass at run time.

`PUT /admin/faults` merges the given keys into the current faults, `GET` reads them, `DELETE`
clears them. The API does not exist (404) unless MARKETPLACE_ADMIN_TOKEN is set, and answers 401
without `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import random
import threading
import time
from dataclasses import asdict, dataclass, replace

from flask import Blueprint, abort, current_app, jsonify, request

log = logging.getLogger("marketplace.faults")
bp = Blueprint("faults", __name__, url_prefix="/admin")

MAX_LATENCY_MS = 60_000


class InjectedFault(Exception):
    """An error injected on purpose; answered as 503 and counted as error_type="injected"."""


@dataclass(frozen=True)
class FaultState:
    search_latency_ms: float = 0.0
    lookup_latency_ms: float = 0.0
    rdf_latency_ms: float = 0.0
    error_rate: float = 0.0
    cache_bypass: bool = False

    @property
    def active(self) -> bool:
        return self != FaultState()


class Faults:
    """The current faults. Readers take `state` (an immutable snapshot) without locking."""

    def __init__(self):
        self.state = FaultState()
        self._lock = threading.Lock()
        self._random = random.Random()  # noqa: S311 - sampling, not secrets

    def update(self, changes: dict) -> FaultState:
        with self._lock:
            self.state = replace(self.state, **changes)
            return self.state

    def clear(self) -> FaultState:
        with self._lock:
            self.state = FaultState()
            return self.state

    def delay(self, field: str) -> None:
        ms = getattr(self.state, field)
        if ms > 0:
            time.sleep(ms / 1000)

    def maybe_fail(self) -> None:
        rate = self.state.error_rate
        if rate > 0 and self._random.random() < rate:
            raise InjectedFault("injected fault")


def parse_changes(body) -> dict:
    """Validated fault changes from a JSON body; raises ValueError with a client-facing message."""
    if not isinstance(body, dict) or not body:
        raise ValueError("body must be a non-empty JSON object")
    known = {f for f in FaultState.__dataclass_fields__}
    unknown = sorted(set(body) - known)
    if unknown:
        raise ValueError(f"unknown fault keys: {', '.join(unknown)[:200]}; known: {sorted(known)}")
    changes = {}
    for key, value in body.items():
        if key == "cache_bypass":
            if not isinstance(value, bool):
                raise ValueError("cache_bypass must be true or false")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"{key} must be a number")
        elif key == "error_rate" and not 0 <= value <= 1:
            raise ValueError("error_rate must be between 0 and 1")
        elif key.endswith("_latency_ms") and not 0 <= value <= MAX_LATENCY_MS:
            raise ValueError(f"{key} must be between 0 and {MAX_LATENCY_MS}")
        changes[key] = value if key == "cache_bypass" else float(value)
    return changes


def _faults() -> Faults:
    return current_app.extensions["marketplace"].faults


def token_matches(given: str, token: str) -> bool:
    """Constant-time, and blind to length: both sides are hashed to 32 bytes before the compare."""
    digest = hashlib.sha256
    return hmac.compare_digest(digest(given.encode()).digest(), digest(token.encode()).digest())


@bp.before_request
def require_token():
    token = current_app.extensions["marketplace"].settings.admin_token
    if not token:
        abort(404)
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    # Evaluated whatever the scheme, so a wrong scheme costs the same time as a wrong token.
    matches = token_matches(credentials.strip(), token)
    if scheme.lower() != "bearer" or not matches:
        abort(401)


def _json_body():
    """The parsed body, or None when it is empty; 400 for anything that is not JSON."""
    data = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    if not data.strip():
        return None
    try:
        return json.loads(data)
    # RecursionError: a deeply nested array, which Flask's get_json would let through as a 500
    except (ValueError, UnicodeDecodeError, RecursionError):
        abort(400, "request body is not valid JSON")


@bp.get("/faults")
def get_faults():
    return jsonify(asdict(_faults().state))


@bp.put("/faults")
def put_faults():
    try:
        changes = parse_changes(_json_body())
    except ValueError as exc:
        abort(400, str(exc))
    state = _faults().update(changes)
    log.warning("Faults updated", extra={"faults": asdict(state)})
    return jsonify(asdict(state))


@bp.delete("/faults")
def delete_faults():
    state = _faults().clear()
    log.warning("Faults cleared", extra={"faults": asdict(state)})
    return jsonify(asdict(state))
