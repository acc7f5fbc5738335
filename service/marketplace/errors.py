"""JSON errors for every failure: `{"error": {"code", "message"}}`, never a stack trace.

A rejected request (400, 401, 404, 405, 413) leaves one info line, "Request rejected", with the
status, the method, the URL rule and a reason from a fixed table: never the raw path, query,
headers or body, which the client chose and which have no length bound worth logging.
"""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from .faults import InjectedFault
from .install import DependencyCycle, MissingDependency
from .tracing import KNOWN_METHODS, UNMATCHED_ROUTE

log = logging.getLogger("marketplace.errors")
# Its own logger, so an operator under a flood of bad requests can quiet exactly these lines
# (MARKETPLACE_LOG_LEVEL=info,marketplace.rejected=warning).
rejected_log = logging.getLogger("marketplace.rejected")
bp = Blueprint("errors", __name__)

CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    500: "internal_error",
    503: "unavailable",
}
# (status, whether a URL rule matched) -> the log line's reason
REASONS = {
    (400, True): "invalid parameters or body",
    (400, False): "malformed request",
    (401, True): "missing or wrong bearer token",
    (404, True): "no such resource",
    (404, False): "no route matches the path",
    (405, True): "method not allowed on the route",
    (413, True): "body over the size limit",
    (413, False): "body over the size limit",
}
REJECTED = frozenset(status for status, _ in REASONS)


def json_error(status: int, message: str, code: str | None = None, **extra):
    body = {"error": {"code": code or CODES.get(status, "error"), "message": message, **extra}}
    return jsonify(body), status


def _route(exc: HTTPException) -> str | None:
    """The URL rule the request addressed; for a 405 the rule that matched the path."""
    if request.url_rule is not None:
        return request.url_rule.rule
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        adapter = current_app.url_map.bind_to_environ(request.environ)
        try:
            rule, _ = adapter.match(method=sorted(exc.valid_methods)[0], return_rule=True)
        except HTTPException:
            return None
        return rule.rule
    return None


def _log_rejected(exc: HTTPException, status: int) -> None:
    route = _route(exc)
    matched = route is not None
    rejected_log.info(
        "Request rejected",
        extra={
            "status": status,
            "method": request.method if request.method in KNOWN_METHODS else "OTHER",
            "route": route or UNMATCHED_ROUTE,
            "reason": REASONS.get((status, matched)) or REASONS[status, True],
        },
    )


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException):
    status = exc.code or 500
    if status in REJECTED:
        _log_rejected(exc, status)
    response, status = json_error(status, exc.description or exc.name)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    if exc.code == 401:
        response.headers["WWW-Authenticate"] = "Bearer"
    return response, status


@bp.app_errorhandler(InjectedFault)
def injected(exc: InjectedFault):
    return json_error(503, "injected fault: the service is degraded on purpose", "injected_fault")


@bp.app_errorhandler(DependencyCycle)
def cycle(exc: DependencyCycle):
    return json_error(409, str(exc), "dependency_cycle", cycle=exc.cycle)


@bp.app_errorhandler(MissingDependency)
def missing(exc: MissingDependency):
    return json_error(
        409, str(exc), "missing_dependency", package=exc.package, dependency=exc.dependency
    )


@bp.app_errorhandler(Exception)
def unexpected(exc: Exception):
    # The traceback goes to the log (one JSON line); the client only learns that it failed.
    log.error("Unhandled error", exc_info=exc, extra={"error_type": type(exc).__name__})
    return json_error(500, "internal error")
