"""`python -m alertsink [--host H] [--port P]`: ALERTSINK_HOST (default 127.0.0.1) and
ALERTSINK_PORT (required: the port lives in `.env`, which compose and the native launcher pass on).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys

from werkzeug.serving import make_server

from alertsink import create_app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="alertsink", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default=os.environ.get("ALERTSINK_HOST", "127.0.0.1"))
    # A string default goes through `type` too: a bad ALERTSINK_PORT is refused like a bad --port.
    parser.add_argument("--port", type=int, default=os.environ.get("ALERTSINK_PORT"))
    args = parser.parse_args(argv)
    if args.port is None:
        parser.error("no port: set ALERTSINK_PORT (see .env) or pass --port")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Each notification is already logged as JSON; werkzeug's access lines would only interleave.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server(args.host, args.port, create_app(), threaded=True)
    # SIGTERM (docker stop, the native launcher) ends the loop like Ctrl-C does.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print(f"alertsink listening on http://{args.host}:{server.port}", file=sys.stderr, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
