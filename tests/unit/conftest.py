"""Fixtures for the service's unit tests: an app over a small test catalog, in process."""

from __future__ import annotations

import dataclasses
import io
import logging
from pathlib import Path

import pytest
from marketplace import create_app, logs
from marketplace.settings import Settings
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

DATA = Path(__file__).parent / "data"
TEST_CATALOG = DATA / "catalog.ttl"
ADMIN_TOKEN = "test-admin-token"


@pytest.fixture
def settings() -> Settings:
    """v2 over the test catalog, admin API on; no OTEL_* so nothing is exported."""
    return Settings(variant="v2", catalog=TEST_CATALOG, admin_token=ADMIN_TOKEN)


@pytest.fixture
def auth(settings) -> dict[str, str]:
    """Headers that pass the admin API's bearer check."""
    return {"Authorization": f"Bearer {settings.admin_token}"}


@pytest.fixture
def span_exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def make_app(settings, span_exporter):
    """Build an app with settings changed by keyword, e.g. make_app(variant="v1")."""

    def build(**changes):
        return create_app(
            {
                "TESTING": True,
                "SETTINGS": dataclasses.replace(settings, **changes),
                "SPAN_EXPORTER": span_exporter,
                "CATALOG_BACKGROUND": False,
                "CONFIGURE_LOGGING": False,
            }
        )

    return build


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def registry(app):
    return app.extensions["marketplace"].metrics.registry


@pytest.fixture
def root_restored():
    """The root logger, its level and handlers put back (and the log writer stopped) after."""
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    yield root
    logs.stop()
    for handler in [h for h in root.handlers if h not in saved[1]]:
        root.removeHandler(handler)
    root.setLevel(saved[0])


@pytest.fixture
def log_stream(settings) -> io.StringIO:
    """The service's JSON log lines, formatted as it formats them, written synchronously to a
    StringIO from the root logger while the test runs."""
    stream = io.StringIO()
    (handler,) = logs.handlers(settings, stream)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield stream
    root.removeHandler(handler)
    root.setLevel(old_level)
