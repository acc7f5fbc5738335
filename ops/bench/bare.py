"""The benchmark's ceiling: a bare Flask app that answers every GET with one precomputed body.

Run under the same server and settings as the marketplace, it measures what the server, Flask
and the loopback cost with no catalog, cache, metrics, tracing or logging at all. The body is
JSON of `BENCH_BARE_BODY_BYTES` bytes, the size of a typical v2 search answer.
"""

from __future__ import annotations

import json
import os

from flask import Flask, Response

DEFAULT_BODY_BYTES = 2048


def make_body(size: int) -> bytes:
    """A JSON document of exactly `size` bytes (at least the size of the empty envelope)."""
    envelope = {"query": "bench", "results": [], "padding": ""}
    base = len(json.dumps(envelope, separators=(",", ":")))
    envelope["padding"] = "x" * max(0, size - base)
    return json.dumps(envelope, separators=(",", ":")).encode()


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(
        BODY_BYTES=int(os.environ.get("BENCH_BARE_BODY_BYTES", DEFAULT_BODY_BYTES))
    )
    if test_config is not None:
        app.config.from_mapping(test_config)
    body = make_body(app.config["BODY_BYTES"])

    # every path, so the benchmark's rotating search paths and /readyz all land here
    @app.get("/", defaults={"path": ""})
    @app.get("/<path:path>")
    def answer(path: str) -> Response:
        return Response(body, mimetype="application/json")

    return app


def load_bare_app() -> Flask:
    return create_app()


def main() -> int:
    """Serve the bare app through the marketplace's own server code, so every server setting
    (MARKETPLACE_SERVER, threads, keep-alive, timeouts) is the service's, read from the same
    `MARKETPLACE_*` variables."""
    from marketplace.__main__ import Server, granian
    from marketplace.logs import configure
    from marketplace.settings import get_settings

    class BareServer(Server):
        def load(self) -> Flask:
            return create_app()

    settings = get_settings()
    configure(settings)
    if settings.server == "gunicorn":
        BareServer(settings).run()
    else:
        server, loader = granian(settings, loader=load_bare_app)
        server.serve(target_loader=loader, wrap_loader=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
