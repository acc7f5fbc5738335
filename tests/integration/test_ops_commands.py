"""`make verify`, `make drill` and `make slo-report` against the native stack, with faults injected.

The stack runs on free ports with 1 s scrape/evaluation and shortened Alertmanager timings; the
commands find it through the `<NAME>_URL` variables, as they would find a remote stack.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests

from ops.checks import rows as verify_rows
from ops.checks import verify
from ops.polling import polls
from ops.promapi import Endpoints
from ops.stack import topology
from tests.conftest import require_binary

pytestmark = pytest.mark.integration

REPO = topology.REPO_ROOT


@pytest.fixture
def ops_env(native_stack) -> dict[str, str]:
    """The `<NAME>_URL` variables that point every ops command at the shared native stack."""
    return native_stack.stack.url_env()


def _wait_for(condition, timeout: float, what: str, interval: float = 0.5):
    """Poll `condition` (returns a truthy value when done): at most `timeout` seconds and at most
    as many polls as fit in it, whichever ends first."""
    last = None
    for _ in polls(timeout, interval):
        last = condition()
        if last:
            break
    if last:
        return last
    pytest.fail(f"timed out after {timeout:g}s waiting for {what}; last: {last!r}")


def _run(
    module: str, *args: str, env: dict[str, str], timeout: float = 120
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _rows(env: dict[str, str], *args: str) -> dict[str, verify_rows.Row]:
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        rows = verify.run_checks(Endpoints.from_env(), "native", *args)
    return {r.check: r for r in rows}


def _failed(rows: dict[str, verify_rows.Row]) -> set[str]:
    return {check for check, row in rows.items() if row.status == "fail"}


def test_verify_passes_on_the_healthy_stack_and_delivers_its_test_alert(ops_env):
    env = ops_env
    _wait_for(lambda: not _failed(_rows(env, False)), 60, "every check but the alert to pass")
    done = _run("ops.checks", "verify", "--mode", "native", "--format", "json", env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {r["check"]: r for r in json.loads(done.stdout)["rows"]}
    assert rows["Test alert delivered (info)"]["status"] == "pass"
    assert "marketplace-info" in rows["Test alert delivered (info)"]["evidence"]
    assert rows["Targets up: marketplace"]["evidence"] == "2/2 up"
    assert rows["Dashboards provisioned"]["status"] == "skip"
    assert rows["Logs ingested"]["status"] == "skip"


@pytest.mark.parametrize(
    ("component", "expected", "alert"),
    [
        ("marketplace-v2", {"Targets up: marketplace"}, False),
        (
            "alertmanager",
            {
                "Targets up: alertmanager",
                "Alertmanager ready",
                "Receivers configured",
                "Test alert delivered (info)",
            },
            True,
        ),
    ],
)
def test_a_stopped_component_fails_verify_on_its_own_rows(
    stack, ops_env, component, expected, alert
):
    # Alertmanager rather than the sink: a restarted sink forgets what it received, which other
    # tests on the shared stack read; a restarted Alertmanager keeps its state in its data dir.
    env = ops_env
    stack.stop(component)  # the `stack` fixture starts it again afterwards
    rows = _wait_for(
        lambda: (r := _rows(env, alert, "info", 10)) and expected <= _failed(r) and r,
        30,
        f"verify to notice that {component} is down",
        interval=1,
    )
    assert _failed(rows) == expected
    args = ("--mode", "native", "--no-alert", "--format", "json")
    done = _run("ops.checks", "verify", *args, env=env)
    assert done.returncode == 1
    cli_failed = {r["check"] for r in json.loads(done.stdout)["rows"] if r["status"] == "fail"}
    assert cli_failed == expected - {"Test alert delivered (info)"}


@pytest.mark.parametrize(
    ("severity", "receiver", "kinds"),
    [
        ("critical", "marketplace-oncall", {"pagerduty", "slack"}),
        ("warning", "marketplace-team", {"slack"}),
    ],
)
def test_drill_arrives_at_the_receiver_amtool_names(ops_env, severity, receiver, kinds):
    require_binary("amtool")
    env = ops_env
    args = ("--severity", severity, "--format", "json", "--timeout", "30")
    done = _run("ops.checks", "drill", *args, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["expected_receivers"] == [receiver]
    assert result["receivers_source"].startswith("amtool")
    (delivery,) = result["deliveries"]
    assert delivery["receiver"] == receiver
    assert kinds <= set(delivery["kinds"])
    assert 0 < delivery["seconds"] < 30


def _instant(prom: str, expr: str) -> float | None:
    body = requests.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=5).json()
    result = body["data"]["result"]
    return float(result[0]["value"][1]) if result else None


ERROR_RATE = 0.5  # the injected fault: each v2 search fails with this probability
ERRORS_BUDGET = 0.01  # the errors SLO: under 1% of searches fail (docs/contracts.md)
FAST_BURN = 14.4  # the page threshold of a fast burn over 1h (SRE Workbook, the burn-rate rules)
V2_SEARCHES = 'sum(increase(marketplace_search_total{job="marketplace", version="v2"}[%s]))'


def _expected_errors_ratio_1h(prom: str, fault_seconds: float) -> float | None:
    """What the fault must make of v2's 1h error ratio: ERROR_RATE of the searches served since
    it began, over all searches of the hour (v2 fails none without a fault)."""
    during = _instant(prom, V2_SEARCHES % f"{max(1, int(fault_seconds))}s")
    total = _instant(prom, V2_SEARCHES % "1h")
    return ERROR_RATE * during / total if during and total else None


def test_an_error_fault_on_v2_burns_the_errors_budget_in_the_report(stack, ops_env, tmp_path):
    env = ops_env
    prom = env["PROMETHEUS_URL"]
    stack.set_faults("marketplace-v2", error_rate=ERROR_RATE)
    began = time.monotonic()
    try:
        # MarketplaceHighErrorRate has `for: 2m`: it fires about two minutes after the fault.
        # Wait for it, and for the fault to cover enough of the hour that a fast burn is certain.
        firing = 'ALERTS{alertname="MarketplaceHighErrorRate", version="v2", alertstate="firing"}'

        def burning():
            fired = _instant(prom, f"count({firing})")
            expected = _expected_errors_ratio_1h(prom, time.monotonic() - began)
            return fired and expected and expected / ERRORS_BUDGET > 1.5 * FAST_BURN

        _wait_for(burning, 300, "MarketplaceHighErrorRate to fire on v2", interval=2)
        png = tmp_path / "budget.png"
        run_dir = str(stack.stack.run_dir)
        args = ("--format", "json", "--window", "1h", "--png", str(png), "--run-dir", run_dir)
        expected_ratio = _expected_errors_ratio_1h(prom, time.monotonic() - began)
        fault_seconds = time.monotonic() - began
        samples = _instant(prom, 'count_over_time(up{job="marketplace", version="v2"}[1h])')
        done = _run("ops.slo", *args, env=env)
        assert done.returncode == 0, done.stderr
    finally:
        stack.clear_faults("marketplace-v2")
    report = json.loads(done.stdout)
    slos = {s["slo"]: s for s in report["slos"]}
    assert set(slos) == {"search_latency", "lookup_latency", "cache_hit", "errors", "availability"}
    errors = slos["errors"]
    assert errors["objective"] == pytest.approx(1 - ERRORS_BUDGET)
    # Burn rate over 1h: the fault's share of the hour's searches, failing at ERROR_RATE, over
    # the budget; within sampling noise of that, and past the page threshold either way.
    assert errors["burn_rate_1h"] == pytest.approx(expected_ratio / ERRORS_BUDGET, rel=0.25)
    assert errors["burn_rate_1h"] > FAST_BURN
    # Compliance over the hour: each 5-minute ratio sample taken τ s into the fault is at least
    # ERROR_RATE * τ / 300, so the samples of the fault add up to at least
    # ERROR_RATE * F² / 600 for F <= 300 s; the window holds at most `samples` of them (1 s
    # evaluation, one per up sample).
    f = min(fault_seconds, 300.0)
    least_mean_ratio = ERROR_RATE * f * f / 600 / samples
    assert errors["error_budget_remaining"] < 1 - 0.8 * least_mean_ratio / ERRORS_BUDGET
    assert errors["error_budget_remaining"] < 0.5
    assert errors["met"] is (errors["compliance"] >= errors["objective"])
    assert "of 1h" in errors["data_used"]
    fired = report["alerts_fired"]["items"]
    assert any(
        a["alertname"] == "MarketplaceHighErrorRate" and a["labels"].get("version") == "v2"
        for a in fired
    ), fired
    assert report["slowest_searches"]["source"].startswith("service log files")
    assert report["slowest_searches"]["items"], "the v2 log file has completed searches"
    assert report["cache"]["items"]
    assert png.read_bytes()[:4] == b"\x89PNG"

    markdown = _run("ops.slo", "--format", "markdown", "--window", "1h", env=env)
    assert markdown.returncode == 0
    assert "| Error rate < 1%" in markdown.stdout
