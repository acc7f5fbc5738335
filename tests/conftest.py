"""Fixtures and helpers shared by every test area."""

import os
import shutil

import pytest

IN_CI = os.environ.get("CI", "").lower() == "true"


def require_binary(name: str) -> str:
    """Path of a binary a test needs; in CI its absence fails, elsewhere it skips."""
    path = shutil.which(name)
    if path:
        return path
    message = f"{name} is not installed (apt-get install prometheus prometheus-alertmanager)"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
