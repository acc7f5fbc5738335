"""Package marketplace over an RDF catalog: Flask app factory.

Two variants of the same API (MARKETPLACE_VARIANT): v1 runs SPARQL for every search; v2 serves
from an in-memory index with a TTL+LRU cache. Both are fully instrumented (metrics, logs, traces).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

from flask import Flask, abort, g, request
from flask_orjson import OrjsonProvider
from prometheus_client import CollectorRegistry

try:
    __version__ = _dist_version("marketplace")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

MAX_BODY_BYTES = 1024 * 1024
log = logging.getLogger("marketplace")


@dataclass
class Marketplace:
    """What the request handlers share; `store` is None until the catalog is loaded."""

    settings: object
    metrics: object
    tracer: object
    faults: object
    version: str = __version__
    store: object = None


def create_app(test_config: dict | None = None) -> Flask:
    """The WSGI app. `test_config` may hold Flask config plus SETTINGS (a Settings object),
    SPAN_EXPORTER (receives every finished span), CATALOG_BACKGROUND and CONFIGURE_LOGGING."""
    from . import api, apidoc, errors, faults, health, httpspans, lifecycle, logs, metrics, tracing
    from .settings import get_settings

    app = Flask(__name__, static_folder=None)  # no static files: no /static/<path> route
    # The standard library's json was about a tenth of a search's CPU (docs/service.md has the
    # figures). orjson keeps the documented field order (no sort) and writes UTF-8 as is.
    app.json = OrjsonProvider(app)
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        # Production loads the catalog after the server is up, so /healthz answers at once and
        # /readyz tells when searches will; tests want it loaded before the first request.
        CATALOG_BACKGROUND=True,
        CONFIGURE_LOGGING=True,
    )
    if test_config:
        app.config.from_mapping(test_config)
    settings = app.config.get("SETTINGS") or get_settings()

    if app.config["CONFIGURE_LOGGING"]:
        # in the serving process: the log writer thread is this process's own
        logs.configure(settings, background=True)
    signals = metrics.Metrics(CollectorRegistry(), version=__version__, variant=settings.variant)
    drops = tracing.SpanDrops(signals.spans_dropped.inc)
    mp = Marketplace(
        settings=settings,
        metrics=signals,
        tracer=tracing.init_app(app, settings, __version__, drops),
        faults=faults.Faults(),
    )
    app.extensions["marketplace"] = mp
    provider = app.extensions.get("marketplace.tracer_provider")
    if provider is not None:
        httpspans.init_app(app, settings, provider)
    app.extensions["marketplace.close"] = lifecycle.on_exit(
        provider, logs.stop if app.config["CONFIGURE_LOGGING"] else None
    )

    app.register_blueprint(errors.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(faults.bp)
    app.register_blueprint(apidoc.bp)
    _init_http_metrics(app, mp)

    if app.config["CATALOG_BACKGROUND"]:
        threading.Thread(
            target=_load_catalog, args=(mp, True), name="catalog-loader", daemon=True
        ).start()
    else:
        _load_catalog(mp, False)
    return app


def _load_catalog(mp: Marketplace, exit_on_error: bool) -> None:
    from .catalog.loader import load_graph
    from .stores import build_store

    start = time.perf_counter()
    try:
        graph = load_graph(mp.settings)
        mp.store = build_store(mp.settings, graph, mp.metrics, mp.tracer, mp.faults)
    except Exception:
        if not exit_on_error:
            raise
        log.critical("Catalog failed to load", exc_info=True)
        # Exit code 3 is gunicorn's "worker failed to boot": the arbiter stops instead of
        # restarting a worker that can never become ready.
        os._exit(3)
    # The catalog is a few hundred thousand long-lived objects; a full collection walking them
    # costs ~100 ms at 10,000 packages, a latency spike on whichever request triggers it.
    # Freezing moves them out of the collector's view; request garbage is collected as usual.
    gc.collect()
    gc.freeze()
    log.info(
        "Ready",
        extra={
            "packages": mp.store.package_count,
            "duration_ms": round((time.perf_counter() - start) * 1000, 1),
        },
    )


def _init_http_metrics(app: Flask, mp: Marketplace) -> None:
    metrics = mp.metrics

    @app.before_request
    def start_timer():
        g.marketplace_start = time.perf_counter()
        # Refuse a declared oversized body up front, whether or not the endpoint reads it
        # (a chunked one is cut at MAX_CONTENT_LENGTH when read).
        if (request.content_length or 0) > MAX_BODY_BYTES:
            abort(413)

    @app.after_request
    def record(response):
        start = g.get("marketplace_start")
        if start is not None:
            rule = request.url_rule.rule if request.url_rule is not None else None
            metrics.http_request(
                request.method, rule, response.status_code, time.perf_counter() - start
            )
        return response
