"""Bounded polling for the stack tests: data takes seconds to reach each store."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest
import requests

from ops.polling import polls

T = TypeVar("T")


def eventually(
    check: Callable[[], T | None], timeout: float = 90.0, interval: float = 3.0, what: str = ""
) -> T:
    """Call `check` until it returns something truthy, at most `timeout` seconds."""
    last_error: Exception | None = None
    for _ in polls(timeout, interval):
        try:
            result = check()
            if result:
                return result
        except (requests.RequestException, AssertionError, KeyError, ValueError) as err:
            last_error = err
    detail = f": last error {last_error!r}" if last_error else ""
    pytest.fail(f"not within {timeout:.0f}s: {what or check.__name__}{detail}")
