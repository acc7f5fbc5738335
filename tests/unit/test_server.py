"""The production server's settings: granian by default, one worker process whose
MARKETPLACE_THREADS threads run the app, its logs through the JSON formatter; gunicorn and the
stock instrumentation stay selectable."""

import pytest
from marketplace.settings import Settings, SettingsError

pytestmark = pytest.mark.unit


def test_granian_runs_one_wsgi_worker_with_the_configured_threads():
    from granian.constants import Interfaces
    from marketplace.__main__ import granian, load_app
    from marketplace.logs import granian_log_config

    settings = Settings.from_env({"MARKETPLACE_THREADS": "5", "MARKETPLACE_PORT": "8123"})
    server, loader = granian(settings)
    assert loader is load_app
    assert server.workers == 1 and server.interface == Interfaces.WSGI
    assert server.blocking_threads == 5
    assert (server.bind_addr, server.bind_port) == ("127.0.0.1", 8123)
    loggers = server.log_config["loggers"]
    assert set(loggers) == set(granian_log_config()["loggers"]) and server.log_access is False
    assert all(c["handlers"] == [] and c["propagate"] for c in loggers.values())
    assert server.log_config["handlers"] == {}
    assert server.workers_kill_timeout == 10


def test_the_server_and_instrumentation_settings():
    assert Settings.from_env({}).server == "granian"
    assert Settings.from_env({}).instrumentation == "lean"
    assert Settings.from_env({}).internal_spans is True
    parsed = Settings.from_env(
        {
            "MARKETPLACE_SERVER": "Gunicorn",
            "MARKETPLACE_INSTRUMENTATION": "stock",
            "MARKETPLACE_INTERNAL_SPANS": "false",
        }
    )
    assert (parsed.server, parsed.instrumentation, parsed.internal_spans) == (
        "gunicorn",
        "stock",
        False,
    )
    for name, value in (("MARKETPLACE_SERVER", "uwsgi"), ("MARKETPLACE_INSTRUMENTATION", "max")):
        with pytest.raises(SettingsError, match=name):
            Settings.from_env({name: value})
