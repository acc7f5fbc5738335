"""The service image, checked on paper (no Docker engine here): slim, non-root, probed, run as
`python -m marketplace`."""

import json
import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

DOCKERFILE = Path(__file__).resolve().parents[2] / "service" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), rest.strip()))
    return result


def test_base_user_and_command():
    steps = instructions()
    assert steps[0] == ("FROM", "python:3.11-slim")
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    (cmd,) = [rest for keyword, rest in steps if keyword == "CMD"]
    assert json.loads(cmd) == ["python", "-m", "marketplace"]
    env = " ".join(rest for keyword, rest in steps if keyword == "ENV")
    assert "MARKETPLACE_HOST=0.0.0.0" in env


def test_healthcheck_probes_healthz_with_python():
    (health,) = [rest for keyword, rest in instructions() if keyword == "HEALTHCHECK"]
    probe = json.loads(health[health.index("CMD") + 3 :].strip())
    assert probe[:2] == ["python", "-c"] and "/healthz" in probe[2]
    compile(probe[2], "healthcheck", "exec")  # valid Python, no curl needed
