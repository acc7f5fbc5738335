"""Fixtures for the contract tests: log lines the real service writes to MARKETPLACE_LOG_FILE."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

ADMIN_TOKEN = "contract-test-token"


def _requests(client) -> None:
    """A little of everything the service logs: searches (hits, misses), lookups, an error."""
    auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    for query in ("rdf", "rdf", "graph", "zzz-no-such-package"):
        assert (
            client.get("/api/v1/search", query_string={"q": query, "limit": 5}).status_code == 200
        )
    found = client.get("/api/v1/search", query_string={"q": "rdf", "limit": 1}).get_json()
    client.get("/api/v1/packages/no-such-package")
    if found and found.get("results"):
        client.get(f"/api/v1/packages/{found['results'][0]['id']}")
    # Injected failures: the error lines Promtail labels level=ERROR (or WARNING).
    client.put("/admin/faults", json={"error_rate": 1.0}, headers=auth)
    client.get("/api/v1/search", query_string={"q": "failing"})
    client.delete("/admin/faults", headers=auth)


@pytest.fixture(scope="session")
def service_log_lines(tmp_path_factory) -> list[dict]:
    """Every JSON line both variants wrote to their log files while serving `_requests`.

    The app configures its own file handler from MARKETPLACE_LOG_FILE exactly as in the container;
    spans exist (no exporter), so lines written during a request carry trace_id.
    """
    from marketplace import create_app
    from marketplace.settings import Settings

    directory = tmp_path_factory.mktemp("service-logs")
    root = logging.getLogger()
    before = list(root.handlers), root.level
    lines: list[dict] = []
    try:
        for variant in ("v1", "v2"):
            log_file = directory / f"marketplace-{variant}.log"
            settings = Settings.from_env(
                {
                    "MARKETPLACE_VARIANT": variant,
                    "MARKETPLACE_LOG_FILE": str(log_file),
                    "MARKETPLACE_ADMIN_TOKEN": ADMIN_TOKEN,
                    "MARKETPLACE_LOG_LEVEL": "info",
                }
            )
            app = create_app(
                {
                    "TESTING": True,
                    "SETTINGS": settings,
                    "CATALOG_BACKGROUND": False,
                    "CONFIGURE_LOGGING": True,
                }
            )
            _requests(app.test_client())
            lines.extend(_read(log_file))
    finally:
        for handler in root.handlers[:]:
            if handler not in before[0]:
                root.removeHandler(handler)
                handler.close()
        root.setLevel(before[1])
    assert lines, "the service wrote nothing to MARKETPLACE_LOG_FILE"
    return lines


def _read(path: Path) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]
