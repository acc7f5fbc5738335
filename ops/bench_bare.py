"""The benchmark's ceiling: a bare Flask app that answers every GET with one precomputed body.

Run under the same gunicorn settings as the marketplace, it measures what the server, Flask
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


def main() -> int:
    """Serve the bare app through the marketplace's own gunicorn application class, so every
    server setting (worker class, threads, keep-alive, timeouts) is the service's, read from
    the same `MARKETPLACE_*` variables."""
    from marketplace.__main__ import Server
    from marketplace.logs import configure
    from marketplace.settings import get_settings

    class BareServer(Server):
        def load(self) -> Flask:
            return create_app()

    settings = get_settings()
    configure(settings)
    BareServer(settings).run()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
