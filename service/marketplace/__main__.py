"""`python -m marketplace`: the production server, one worker process with MARKETPLACE_THREADS
threads: granian in WSGI mode (the default; docs/service.md says why) or gunicorn's gthread
worker (MARKETPLACE_SERVER=gunicorn).

One process per container, scaled by running more containers: prometheus-client's multiprocess
mode cannot carry exemplars, and one process keeps every metric in one registry. Either server
stops on SIGTERM by finishing the requests in flight; the worker then exports its queued spans
and writes its queued log lines (marketplace.lifecycle).
"""

from __future__ import annotations

import sys

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from .settings import SettingsError, get_settings


class JsonLogger(Logger):
    """gunicorn's logger with its handlers removed: its records reach our JSON root handler."""

    def setup(self, cfg):
        super().setup(cfg)
        from .logs import route_gunicorn_logs

        route_gunicorn_logs(get_settings())


class Server(BaseApplication):
    """gunicorn, one gthread worker."""

    def __init__(self, settings):
        self.settings = settings
        super().__init__()

    def load_config(self):
        host = self.settings.host
        bind = f"[{host}]:{self.settings.port}" if ":" in host else f"{host}:{self.settings.port}"
        for key, value in {
            "bind": [bind],
            "workers": 1,
            "worker_class": "gthread",
            "threads": self.settings.threads,
            "accesslog": None,  # the app logs every request it serves, with more context
            "errorlog": "-",
            "logger_class": JsonLogger,
            "loglevel": "info",
            "timeout": 60,
            "graceful_timeout": 10,
            "keepalive": 5,
            # Two variants side by side (the native stack) would fight over one control socket.
            "control_socket_disable": True,
            "proc_name": f"marketplace-{self.settings.variant}",
        }.items():
            self.cfg.set(key, value)

    def load(self):
        from . import create_app

        return create_app()


def load_app():
    """granian's target loader, called in its worker process."""
    from . import create_app

    return create_app()


def granian(settings, loader=load_app):
    """granian, one WSGI worker process whose `MARKETPLACE_THREADS` threads run the app."""
    from granian.constants import Interfaces
    from granian.server import Server as Granian

    from .logs import granian_log_config

    return Granian(
        "marketplace",  # shown in its log lines only: the app comes from `loader`
        address=settings.host,
        port=settings.port,
        interface=Interfaces.WSGI,
        workers=1,
        blocking_threads=settings.threads,
        log_dictconfig=granian_log_config(),
        log_access=False,  # the app logs every request it serves, with more context
        # like gunicorn's graceful_timeout: requests in flight get this long after SIGTERM
        workers_kill_timeout=10,
    ), loader


def main() -> int:
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"marketplace: invalid configuration: {exc}", file=sys.stderr)
        return 2
    from .logs import configure

    configure(settings)
    if settings.server == "gunicorn":
        Server(settings).run()
    else:
        server, loader = granian(settings)
        server.serve(target_loader=loader, wrap_loader=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
