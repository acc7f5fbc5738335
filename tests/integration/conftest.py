"""Native stacks for the integration tests, started by the tests on free loopback ports.

Fixtures other test modules can reuse:
- `native_stack` (session): a running stack (LiveStack) with steady traffic; `.urls`,
  `.stack.url_env()` (the `<NAME>_URL` variables for ops commands), `.query()`, `.notifications()`;
- `stack` (function): the same stack, put back afterwards: faults cleared on both variants and any
  component a test stopped started again. Use it to `set_faults`/`clear_faults`/`stop`/`start`;
- `fault_scenarios` (session): the three fault scenarios, each on its own stack in the background
  (started with the first integration test, so their 5 minute `for` overlaps everything else);
- `outage_runs` (session): Alertmanager's and the alert sink's outages (outages.py), on a stack of
  their own in the background; `quiet_stack` (session): a fresh stack under the default load that
  nothing touches, up from the first integration test to the last (test_quiet.py).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import figures
import pytest
from livestack import LiveStack, running, stack_on_free_ports
from outages import alert_path_outages
from scenarios import Outcome, Scenario, scenarios

from ops.stack import topology
from ops.stack.launcher import NativeStack

ROUTE_TIMINGS = {"group_wait": "1s", "group_interval": "5s", "repeat_interval": "1h"}
BASE_LOADGEN_RATE = 5.0
VARIANTS = ("marketplace-v1", "marketplace-v2")


def _new_stack(
    factory: pytest.TempPathFactory,
    name: str,
    loadgen_rate: float,
    loadgen_targets: tuple[str, ...] = VARIANTS,
) -> NativeStack:
    return stack_on_free_ports(
        factory.mktemp(name),
        route_timings=ROUTE_TIMINGS,
        loadgen_rate=loadgen_rate,
        loadgen_targets=loadgen_targets,
    )


@pytest.fixture(scope="session")
def native_stack(tmp_path_factory) -> LiveStack:
    stack = _new_stack(tmp_path_factory, "native", BASE_LOADGEN_RATE)
    _AFTER_LAST_INTEGRATION_TEST.append(stack.down)
    with running(stack) as live:
        yield live


# Stopped after the last integration test rather than at the end of the session, so the stacks
# do not idle through the rule and unit tests that `make test` runs next.
_AFTER_LAST_INTEGRATION_TEST: list = []
LAST_INTEGRATION_TEST = pytest.StashKey[str]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    result = yield  # the test's own fixtures are torn down first (e.g. `stack` restarting things)
    if item.nodeid == item.config.stash.get(LAST_INTEGRATION_TEST, None):
        while _AFTER_LAST_INTEGRATION_TEST:
            _AFTER_LAST_INTEGRATION_TEST.pop()()
    return result


@pytest.fixture
def stack(native_stack: LiveStack) -> LiveStack:
    yield native_stack
    for name in topology.NATIVE_COMPONENTS:
        if native_stack.stack.procs.running(name) is None:
            native_stack.start(name)
    for name in VARIANTS:
        native_stack.clear_faults(name)
    native_stack.wait_targets_up()


class ScenarioRun:
    """One scenario's stack and its future Outcome."""

    def __init__(self, scenario: Scenario, stack: NativeStack) -> None:
        self.scenario = scenario
        self.stack = stack
        self.future: Future[Outcome] | None = None

    def result(self, timeout: float = 900.0) -> Outcome:
        return self.future.result(timeout)


@pytest.fixture(scope="session")
def fault_scenarios(tmp_path_factory, request) -> dict[str, ScenarioRun]:
    abort = threading.Event()
    runs = {
        # v2 only: v1 answers searches by SPARQL, slower than the 200ms objective by design, and
        # its own latency alerts would share the notification groups under test.
        s.alertname: ScenarioRun(
            s, _new_stack(tmp_path_factory, s.alertname, s.loadgen_rate, ("marketplace-v2",))
        )
        for s in scenarios()
    }

    def play(run: ScenarioRun) -> Outcome:
        # Each stack goes as soon as its outcome is known: the others still need the CPU.
        try:
            run.stack.up(timeout=120)
            return run.scenario.run(LiveStack(run.stack), abort)
        finally:
            run.stack.down()

    pool = ThreadPoolExecutor(len(runs), thread_name_prefix="scenario")
    for run in runs.values():
        run.future = pool.submit(play, run)
    try:
        yield runs
    finally:
        abort.set()
        pool.shutdown(wait=True, cancel_futures=True)
        for run in runs.values():
            run.stack.down()
            run.stack.close()
        _report(request.config, runs)


def _report(config: pytest.Config, runs: dict[str, ScenarioRun]) -> None:
    """Fault-to-notification times, for the terminal summary and a JSON file beside the runs."""
    rows = []
    for run in runs.values():
        if run.future is None or not run.future.done() or run.future.exception():
            continue
        out = run.future.result()
        for receiver, kind in out.expected:
            row = {"alert": out.alertname, "fault": out.name, "receiver": receiver, "kind": kind}
            if (receiver, kind) in out.firing:
                row["fault_to_firing_s"] = round(out.fire_delay(receiver, kind), 1)
            if (receiver, kind) in out.resolved:
                row["clear_to_resolved_s"] = round(out.resolve_delay(receiver, kind), 1)
            row["steps"] = out.steps
            rows.append(row)
    config.stash[TIMINGS] = rows
    if rows:
        out = config.rootpath / ".run" / "integration-timings.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(rows, indent=2) + "\n")


TIMINGS = pytest.StashKey[list]()


@pytest.fixture(scope="session")
def outage_runs(tmp_path_factory) -> Future:
    """The future result of outages.alert_path_outages, played in the background."""
    stack = _new_stack(tmp_path_factory, "outages", 1.0, ("marketplace-v2",))
    abort = threading.Event()

    def play():
        try:
            stack.up(timeout=120)
            return alert_path_outages(LiveStack(stack), abort)
        finally:
            stack.down()

    pool = ThreadPoolExecutor(1, thread_name_prefix="outages")
    try:
        yield pool.submit(play)
    finally:
        abort.set()
        pool.shutdown(wait=True, cancel_futures=True)
        stack.down()
        stack.close()


@pytest.fixture(scope="session")
def quiet_stack(tmp_path_factory) -> LiveStack:
    """A fresh stack at the load generator's default rate (.env), left alone for the whole run."""
    stack = _new_stack(tmp_path_factory, "quiet", None)
    _AFTER_LAST_INTEGRATION_TEST.append(stack.down)
    with running(stack) as live:
        yield live


# Started with the first integration test when a selected test needs them; their tests run last.
BACKGROUND = ("fault_scenarios", "outage_runs", "quiet_stack")


@pytest.fixture(scope="session", autouse=True)
def _start_scenarios_first(request) -> None:
    """Start the background stacks with the first integration test if any test of them runs."""
    for name in BACKGROUND:
        if any(name in item.fixturenames for item in request.session.items):
            request.getfixturevalue(name)


def pytest_collection_modifyitems(config, items) -> None:
    # The scenario tests only wait for results: run them after every other integration test,
    # in the slots the integration tests had, so other directories keep their order.
    slots = [i for i, item in enumerate(items) if item.get_closest_marker("integration")]
    chosen = [items[i] for i in slots]
    ordered = sorted(chosen, key=_background_last)
    for slot, item in zip(slots, ordered, strict=True):
        items[slot] = item
    if ordered:
        config.stash[LAST_INTEGRATION_TEST] = ordered[-1].nodeid


def _background_last(item) -> tuple[bool, bool]:
    # The quiet stack's test last of all: it covers the whole run.
    names = set(item.fixturenames)
    return bool(names & set(BACKGROUND)), "quiet_stack" in names


def pytest_terminal_summary(terminalreporter, config) -> None:
    figures.summary(terminalreporter, config)
    rows = config.stash.get(TIMINGS, None)
    if not rows:
        return
    terminalreporter.section("fault to notification (native stack, 1s scrape/evaluation)")
    for row in rows:
        terminalreporter.write_line(json.dumps(row))
