"""Every alert on both sides of the threshold the spec gives it (tests/rules/thresholds.py).

All cases run in one promtool invocation; each test reads its own group's outcome.
"""

from __future__ import annotations

import pytest
import rulefiles as rf
import thresholds as th
from promtest import run

pytestmark = pytest.mark.rules

CASES = th.spec_cases() + th.burn_cases()


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    files = sorted({rf.RULES_DIR / c.rule_file for c in CASES})
    return run(files, [c.group for c in CASES], tmp_path_factory.mktemp("thresholds"), "1m")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_the_alert_sits_on_the_side_of_its_threshold_the_spec_puts_it(outcome, case):
    failures, output = outcome
    assert not {"<promtool>", "<unattributed>"} & set(failures), output
    assert case.name not in failures, failures.get(case.name)
