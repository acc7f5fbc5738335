"""The figures the outage and quiet tests measure: printed by each test, listed at the end of
pytest's summary (conftest.py) and written to `.run/integration-outages.json`, like the fault
timings in `.run/integration-timings.json`."""

from __future__ import annotations

import json

import pytest

FIGURES = pytest.StashKey[list]()
FILE_NAME = "integration-outages.json"


def record(config: pytest.Config, test: str, **values) -> dict:
    row = {"test": test, **values}
    rows = config.stash.setdefault(FIGURES, [])
    rows.append(row)
    print(json.dumps(row))
    out = config.rootpath / ".run" / FILE_NAME
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=2) + "\n")
    return row


def summary(terminalreporter, config: pytest.Config) -> None:
    rows = config.stash.get(FIGURES, None)
    if not rows:
        return
    terminalreporter.section("outages and quiet run (native stack, 1s scrape/evaluation)")
    for row in rows:
        terminalreporter.write_line(json.dumps(row))
