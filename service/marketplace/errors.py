"""JSON errors for every failure: `{"error": {"code", "message"}}`, never a stack trace."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from .faults import InjectedFault
from .install import DependencyCycle, MissingDependency

log = logging.getLogger("marketplace.errors")
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


def json_error(status: int, message: str, code: str | None = None, **extra):
    body = {"error": {"code": code or CODES.get(status, "error"), "message": message, **extra}}
    return jsonify(body), status


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException):
    response, status = json_error(exc.code or 500, exc.description or exc.name)
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
