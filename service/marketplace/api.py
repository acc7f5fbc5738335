"""The marketplace API: search, lookup, install plan."""

from __future__ import annotations

import json

from flask import Blueprint, abort, current_app, jsonify, request

from .catalog.vocab import is_package_id
from .operation import INSTALL, LOOKUP, SEARCH, Operation

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_QUERY_LENGTH = 200
DEFAULT_LIMIT, MAX_LIMIT = 20, 100
MAX_INSTALLED = 1000


def _ready():
    mp = current_app.extensions["marketplace"]
    if mp.store is None:
        abort(503, "the catalog is still loading")
    return mp


def _search_args() -> tuple[str, int]:
    raw = request.args.get("q")
    if raw is None or not raw.strip():
        abort(400, "q is required and must not be blank")
    if len(raw) > MAX_QUERY_LENGTH:
        abort(400, f"q is longer than {MAX_QUERY_LENGTH} characters")
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in raw):
        abort(400, "q must not contain control characters")
    text = request.args.get("limit")
    if text is None:
        return raw.strip(), DEFAULT_LIMIT
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
        abort(400, f"limit must be an integer from 1 to {MAX_LIMIT}")
    return raw.strip(), int(text)


@bp.get("/search")
def search():
    mp = _ready()
    query, limit = _search_args()
    metrics = mp.metrics
    with metrics.searches_in_progress.track_inprogress():
        metrics.search_total.inc()
        with Operation(
            mp,
            SEARCH,
            {"marketplace.query": query, "marketplace.limit": limit},
            query=query,
            limit=limit,
        ) as op:
            mp.faults.delay("search_latency_ms")
            mp.faults.maybe_fail()
            results, cache_hit = mp.store.search(query.lower(), limit)
            cache_hit = bool(cache_hit)
            op.done(
                {"marketplace.result_count": len(results), "marketplace.cache_hit": cache_hit},
                result_count=len(results),
                cache_hit=cache_hit,
            )
    return jsonify(query=query, limit=limit, count=len(results), results=results)


@bp.get("/packages/<package_id>")
def lookup(package_id: str):
    mp = _ready()
    with Operation(
        mp, LOOKUP, {"marketplace.package_id": package_id[:100]}, package_id=package_id[:200]
    ) as op:
        mp.faults.delay("lookup_latency_ms")
        mp.faults.maybe_fail()
        found, cache_hit = (None, None)
        if is_package_id(package_id):
            found, cache_hit = mp.store.lookup(package_id)
        op.done(
            {"marketplace.found": found is not None, "marketplace.cache_hit": bool(cache_hit)},
            found=found is not None,
            cache_hit=bool(cache_hit),
        )
    if found is None:
        abort(404, "no such package")
    return jsonify(found)


def _installed_from_body() -> set[str]:
    """Optional body `{"installed": [ids already present]}`; those are left out of the plan."""
    data = request.get_data(cache=False)  # raises 413 past MAX_CONTENT_LENGTH
    if not data.strip():
        return set()
    try:
        body = json.loads(data)
    # RecursionError: a body nested past the parser's limit is bad input, not a server error
    except (ValueError, UnicodeDecodeError, RecursionError):
        abort(400, "request body is not valid JSON")
    if not isinstance(body, dict) or set(body) - {"installed"}:
        abort(400, 'request body must be a JSON object with only the key "installed"')
    installed = body.get("installed", [])
    if (
        not isinstance(installed, list)
        or len(installed) > MAX_INSTALLED
        or not all(isinstance(i, str) for i in installed)
    ):
        abort(400, f'"installed" must be a list of at most {MAX_INSTALLED} package ids')
    return set(installed)


@bp.post("/packages/<package_id>/install")
def install(package_id: str):
    mp = _ready()
    installed = _installed_from_body()
    with Operation(
        mp, INSTALL, {"marketplace.package_id": package_id[:100]}, package_id=package_id
    ) as op:
        mp.faults.maybe_fail()
        if not is_package_id(package_id) or not mp.store.exists(package_id):
            abort(404, "no such package")
        plan = [step for step in mp.store.install_plan(package_id) if step["id"] not in installed]
        op.done({"marketplace.plan_size": len(plan)}, result_count=len(plan))
    return jsonify(package=package_id, count=len(plan), plan=plan)
