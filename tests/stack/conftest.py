"""Fixtures for the tests against a running compose stack (`make up`, then `make test-stack`).

Hosts come from ops.stack.topology: the published ports in .env, or `<NAME>_URL` from the env
(e.g. GRAFANA_URL=http://stack.example:3000). When Grafana does not answer, no compose stack is
running and every test here is skipped with that reason.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest
import requests

from ops.stack import compose as compose_ops
from ops.stack import topology


@pytest.fixture(scope="session")
def url() -> Callable[[str], str]:
    return topology.host_url


@pytest.fixture(scope="session", autouse=True)
def running_stack() -> None:
    grafana = topology.host_url("grafana")
    try:
        requests.get(grafana + "/api/health", timeout=3).raise_for_status()
    except requests.RequestException as err:
        pytest.skip(
            f"no compose stack is running: Grafana does not answer at {grafana} "
            f"({type(err).__name__}); start one with `make up` or point GRAFANA_URL and the "
            "other <NAME>_URL variables at one"
        )


@pytest.fixture(scope="session")
def grafana_admin() -> tuple[str, str]:
    """Basic-auth pair for the Grafana API calls anonymous Viewers may not make."""
    password = os.environ.get("GRAFANA_ADMIN_PASSWORD")
    if not password and compose_ops.GRAFANA_PASSWORD_FILE.is_file():
        password = compose_ops.GRAFANA_PASSWORD_FILE.read_text(encoding="utf-8").strip()
    if not password:
        pytest.skip(
            f"no Grafana admin password: {compose_ops.GRAFANA_PASSWORD_FILE} is missing and "
            "GRAFANA_ADMIN_PASSWORD is unset"
        )
    return (os.environ.get("GRAFANA_ADMIN_USER", "admin"), password)
