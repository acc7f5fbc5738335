"""exprcheck.py, which the live PromQL tests rely on: thresholds come off every committed alert and
nothing else does, NaN counts as no data, and the allow-lists name only rules and panels that exist.
"""

from __future__ import annotations

import json

import pytest
from exprcheck import (
    PARTLY_NAN_PANELS,
    UNVERSIONED_ALERTS,
    V1_NAN_ALERTS,
    V1_NAN_PANELS,
    V1_NAN_RECORDS,
    finite_gaps,
    has_threshold,
    strip_thresholds,
)
from livestack import DASHBOARDS_DIR, rules

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("expr", "stripped"),
    [
        ('up{job="marketplace"} == 0', 'up{job="marketplace"}'),
        (
            "histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m]))) > 0.2",
            "histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m])))",
        ),
        ("a / on (version) b < 0.80", "a / on (version) b"),
        ("process_resident_memory_bytes > 1e9", "process_resident_memory_bytes"),
        ("x >= bool 5", "x"),
        ("rate(x[5m]) != -1", "rate(x[5m])"),
        (
            "(r1h > (14.4 * (1 - 0.95)) and r5m > (14.4 * (1 - 0.95)))\n"
            "or\n(r6h > (6 * (1 - 0.95)) and r30m > (6 * (1 - 0.95)))",
            "(r1h and r5m) or (r6h and r30m)",
        ),
        # Not thresholds: comparisons between series, constants that are only part of a side.
        ("a > b", "a > b"),
        ("a > 0.2 * b", "a > 0.2 * b"),
        ("vector(1)", "vector(1)"),
        ('x{le="0.2"} > 0', 'x{le="0.2"}'),
    ],
)
def test_thresholds_are_stripped_and_nothing_else(expr, stripped):
    assert strip_thresholds(expr) == stripped


def test_every_committed_alert_loses_its_thresholds():
    for rule in rules("alert"):
        stripped = strip_thresholds(rule["expr"])
        assert not has_threshold(stripped), rule["alert"]
        if rule["alert"] not in UNVERSIONED_ALERTS:
            assert stripped != " ".join(rule["expr"].split()), f"{rule['alert']}: no threshold?"


def sample(version: str | None, value: str) -> dict:
    metric = {} if version is None else {"version": version}
    return {"metric": metric, "value": [0, value]}


def test_nan_is_no_data_and_the_allowed_nan_must_be_nan():
    assert finite_gaps([sample("v1", "0.5"), sample("v2", "0")]) == []
    assert len(finite_gaps([sample("v1", "NaN"), sample("v2", "NaN")])) == 2
    assert len(finite_gaps([sample("v2", "1")])) == 1  # v1 absent
    assert finite_gaps([sample("v1", "NaN"), sample("v2", "1")], nan_for={"v1"}) == []
    assert finite_gaps([sample("v2", "1")], nan_for={"v1"}) == []  # absent is fine too
    assert finite_gaps([sample("v1", "0.3"), sample("v2", "1")], nan_for={"v1"}) != []
    assert finite_gaps([sample("v1", "+Inf"), sample("v2", "1")]) != []
    assert finite_gaps([sample(None, "1")], (None,)) == []


def test_partly_nan_needs_one_finite_series_per_version():
    mixed = [sample("v1", "0.1"), sample("v2", "0.2"), sample("v2", "NaN")]
    assert finite_gaps(mixed) != []
    assert finite_gaps(mixed, partly_nan=True) == []
    assert finite_gaps([sample("v1", "0.1"), sample("v2", "NaN")], partly_nan=True) != []


def test_allow_lists_name_rules_and_panels_that_exist():
    records = {(r["record"], (r.get("labels") or {}).get("slo")) for r in rules("record")}
    alerts = {r["alert"] for r in rules("alert")}
    panels = set()
    for path in DASHBOARDS_DIR.glob("*.json"):
        stack = list(json.loads(path.read_text())["panels"])
        while stack:
            panel = stack.pop()
            panels.add((path.stem, panel.get("title")))
            stack.extend(panel.get("panels", []))
    assert not V1_NAN_RECORDS - records
    assert not (V1_NAN_ALERTS | UNVERSIONED_ALERTS) - alerts
    assert not (V1_NAN_PANELS | PARTLY_NAN_PANELS) - panels
    # v1 has no cache: every listed rule divides by the cache counters, directly or recorded.
    for record, slo in V1_NAN_RECORDS:
        [rule] = [
            r
            for r in rules("record")
            if r["record"] == record and (r.get("labels") or {}).get("slo") == slo
        ]
        assert "marketplace_cache_" in rule["expr"], record
