"""Quiet when healthy (tests/rules/healthy.py): one promtool run of four days of v2, each
family and phase read from it as a test of its own."""

from __future__ import annotations

import healthy as hl
import pytest
import rulefiles as rf
from promtest import run

pytestmark = pytest.mark.rules

RULE_FILES = ("marketplace_recording.yml", "marketplace_burn_rate.yml", "marketplace_alerts.yml")


@pytest.fixture(scope="module")
def failure(tmp_path_factory) -> str:
    files = [rf.RULES_DIR / name for name in RULE_FILES]
    failures, output = run(files, [hl.group()], tmp_path_factory.mktemp("healthy"), hl.EVALUATION)
    assert set(failures) <= {hl.NAME}, output  # none unattributed
    return failures.get(hl.NAME, "")


def _reported(failure: str, expr: str) -> bool:
    # promtool prints every failing expression with its quotes escaped
    return expr.replace('"', '\\"') in failure


@pytest.mark.parametrize("alert", hl.QUIET)
@pytest.mark.parametrize(("phase", "at", "span"), hl.PHASES, ids=[p[0] for p in hl.PHASES])
def test_nothing_is_pending_or_firing_through_the_phase_of_a_healthy_v2(
    failure, alert, phase, at, span
):
    assert not _reported(failure, hl.quiet_expr(alert, span, phase)), failure


@pytest.mark.parametrize("family", hl.FAMILIES, ids=[f.slo for f in hl.FAMILIES])
def test_a_real_burn_after_the_healthy_days_still_fires(failure, family):
    assert not _reported(failure, hl.burn_expr(family)), failure


def test_the_timeline_checks_every_family_in_every_phase():
    exprs = {c["expr"] for c in hl.group()["promql_expr_test"]}
    assert len(exprs) == len(hl.PHASES) * len(hl.QUIET) + len(hl.FAMILIES)
