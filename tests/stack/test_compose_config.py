"""`docker compose config` on the committed compose.yaml, where the stack runs.

It needs the Docker CLI with its compose plugin, so it is not part of `make test` (where the
JSON-schema checks in tests/contract/test_compose.py stand in); the GitHub Actions workflow runs it
after `make up`, with CI=true, where a missing plugin is a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from ops.stack import topology

pytestmark = pytest.mark.stack


def _require_compose() -> None:
    reason = None
    if shutil.which("docker") is None:
        reason = "no docker CLI"
    else:
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, timeout=30
        )
        if probe.returncode != 0:
            reason = "the docker CLI has no compose plugin"
    if reason is None:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(f"{reason}: the stack runs elsewhere (<NAME>_URL)")


def test_docker_compose_config_accepts_the_file():
    _require_compose()
    result = subprocess.run(
        ["docker", "compose", "config", "--quiet"],
        cwd=topology.REPO_ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_docker_compose_builds_the_service_image_once():
    _require_compose()
    # What compose itself resolves, not our reading of the YAML: one build per image.
    result = subprocess.run(
        ["docker", "compose", "config", "--format", "json"],
        cwd=topology.REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    services = json.loads(result.stdout)["services"]
    built = [s["image"] for s in services.values() if "build" in s]
    assert len(built) == len(set(built)), built
