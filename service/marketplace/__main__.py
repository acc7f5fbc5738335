"""`python -m marketplace`: the production server, gunicorn with one worker process and threads.

One process per container, scaled by running more containers: prometheus-client's multiprocess
mode cannot carry exemplars, and one process keeps every metric in one registry.
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


def main() -> int:
    try:
        settings = get_settings()
    except SettingsError as exc:
        print(f"marketplace: invalid configuration: {exc}", file=sys.stderr)
        return 2
    from .logs import configure

    configure(settings)
    Server(settings).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
