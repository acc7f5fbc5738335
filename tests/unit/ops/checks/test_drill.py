"""The drill: receiver derivation, sink polling and delivery timing against fake HTTP answers."""

import json
import time
from datetime import UTC, datetime

import pytest
import requests
import yaml

from ops import promapi
from ops.checks import delivery as drill_delivery
from ops.checks import drill, routing
from tests.conftest import require_binary
from tests.unit.ops.fakes import ENDPOINTS

pytestmark = pytest.mark.unit


def test_amtool_output_gives_one_or_several_receivers():
    assert routing.parse_amtool_receivers("marketplace-oncall\n") == ["marketplace-oncall"]
    assert routing.parse_amtool_receivers("a,b\n") == ["a", "b"]
    assert routing.parse_amtool_receivers("") == []


ROUTING = """
route:
  receiver: default
  group_by: [alertname, component]
  routes:
  - receiver: pager
    matchers: ['severity="critical"', 'component="marketplace"']
    continue: true
  - receiver: audit
    match_re: {severity: "crit.*"}
  - receiver: chat
    matchers: ['severity!="critical"', 'component=~"market.*"']
receivers: [{name: default}, {name: pager}, {name: audit}, {name: chat}]
"""


def test_the_routing_tree_walk_honours_matchers_continue_and_regexes():
    config = yaml.safe_load(ROUTING)
    crit = routing.drill_labels("critical", "MarketplaceDrill_x", "x")
    assert routing.route_receivers(config, crit) == ["pager", "audit"]
    assert routing.route_receivers(config, routing.drill_labels("info", "D", "x")) == ["chat"]
    other = {**routing.drill_labels("info", "D", "x"), "component": "db"}
    assert routing.route_receivers(config, other) == ["default"]


@pytest.mark.parametrize("severity", drill.SEVERITIES)
def test_the_walk_agrees_with_amtool_on_the_committed_routing(severity):
    amtool = require_binary("amtool")
    labels = routing.drill_labels(severity, "MarketplaceDrill_0123", "0123")
    text = routing.ALERTMANAGER_CONFIG.read_text()
    by_amtool, source = routing.expected_receivers(labels, amtool=amtool, running=text)
    assert source.startswith("amtool")
    assert routing.route_receivers(yaml.safe_load(text), labels) == by_amtool


def test_amtool_judges_the_running_config_not_the_committed_file(tmp_path):
    amtool = require_binary("amtool")
    committed = tmp_path / "am.yml"
    committed.write_text("route:\n  receiver: committed\nreceivers:\n- name: committed\n")
    labels = routing.drill_labels("critical", "MarketplaceDrill_x", "x")
    assert routing.expected_receivers(labels, committed, amtool, running=ROUTING) == (
        ["pager", "audit"],
        "amtool config routes test on the running config (/api/v2/status)",
    )
    # Only when the running config is unknown does the committed file stand in.
    assert routing.expected_receivers(labels, committed, amtool)[0] == ["committed"]


def test_amtool_decides_from_the_routing_file(tmp_path):
    amtool = require_binary("amtool")
    config = tmp_path / "am.yml"
    config.write_text(
        "route:\n  receiver: default\n  routes:\n"
        "  - matchers: ['severity=\"info\"', 'component=\"marketplace\"']\n"
        "    receiver: chat\n"
        "receivers:\n- name: default\n- name: chat\n"
    )
    info = routing.drill_labels("info", "MarketplaceDrill", "id")
    assert routing.expected_receivers(info, config, amtool) == (
        ["chat"],
        "amtool config routes test on am.yml",
    )
    crit = routing.drill_labels("critical", "MarketplaceDrill", "id")
    assert routing.expected_receivers(crit, config, amtool)[0] == ["default"]


def test_without_amtool_or_any_config_the_drill_cannot_route(tmp_path, monkeypatch):
    monkeypatch.setattr(routing.shutil, "which", lambda name: None)
    labels = routing.drill_labels("warning", "MarketplaceDrill", "id")
    with pytest.raises(promapi.OpsError):
        routing.expected_receivers(labels, config=tmp_path / "absent.yml")


def test_group_wait_is_the_longest_in_the_running_tree():
    text = "route:\n  group_wait: 30s\n  routes:\n  - group_wait: 0s\n  - group_wait: 1m\n"
    assert routing.group_wait_seconds(text) == 60
    assert routing.group_wait_seconds("route:\n  receiver: x\n") == routing.DEFAULT_GROUP_WAIT
    assert routing.group_wait_seconds(None) is None


def _note(receiver, at, status="firing", kind="slack"):
    stamp = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
    return {"receiver": receiver, "received_at": stamp, "status": status, "kind": kind}


def test_only_firing_notifications_after_the_send_count():
    sent = 1_000_000.0
    items = [_note("r", sent - 60), _note("r", sent + 2, "resolved"), _note("r", sent + 3)]
    assert drill_delivery.new_firing(0, items, sent) == [items[2]]


def test_without_timestamps_notifications_past_the_baseline_count():
    items = [{"receiver": "r"}, {"receiver": "r", "status": "firing"}]
    assert drill_delivery.new_firing(1, items, 0.0) == [items[1]]


class FakeAlertPath:
    """Alertmanager that accepts alerts; a sink that shows them `delay_polls` polls later."""

    def __init__(self, delay_polls=2, deliver=True):
        self.posts = []
        self.polls = 0
        self.delay_polls = delay_polls
        self.deliver = deliver

    def __call__(self, method, url, **kwargs):
        if url.endswith("/api/v2/alerts") and method == "POST":
            alert = kwargs["json"][0]
            if alert["endsAt"] < alert["startsAt"]:  # Alertmanager answers 400 to that
                return _Resp(400, "start time must be before end time")
            self.posts.append(alert)
            return _Resp(200, [])
        if url.endswith("/api/v2/status"):
            return _Resp(200, {"config": {"original": "route:\n  group_wait: 2s\n"}})
        if url.endswith("/api/notifications"):
            receiver = kwargs["params"]["receiver"]
            if not self.posts:
                return _Resp(200, [])
            self.polls += 1
            if not self.deliver or self.polls <= self.delay_polls:
                return _Resp(200, [])
            return _Resp(
                200, [_note(receiver, time.time(), kind="pagerduty"), _note(receiver, time.time())]
            )
        raise requests.ConnectionError(url)


class _Resp:
    def __init__(self, status, body):
        self.status_code = status
        self._body = body
        self.text = json.dumps(body)

    def json(self):
        return self._body


def test_a_drill_reports_delivery_time_and_kinds_then_resolves(monkeypatch):
    fake = FakeAlertPath()
    monkeypatch.setattr(promapi.requests, "request", fake)
    monkeypatch.setattr(drill_delivery, "POLL_SECONDS", 0.01)
    result = drill.run_drill(ENDPOINTS, "critical", receivers=["marketplace-oncall"], timeout=5)
    assert result.ok
    assert result.group_wait == 2.0
    (delivery,) = result.deliveries
    assert delivery.kinds == ["pagerduty", "slack"]
    assert 0 <= delivery.seconds < 5
    firing, resolved = fake.posts
    assert firing["labels"]["severity"] == "critical"
    assert firing["labels"]["component"] == "marketplace"
    assert resolved["labels"] == firing["labels"]
    assert resolved["startsAt"] == firing["startsAt"]
    assert resolved["endsAt"] <= datetime.now(UTC).isoformat()


def test_an_undelivered_drill_fails_after_its_timeout(monkeypatch, capsys):
    monkeypatch.setattr(promapi.requests, "request", FakeAlertPath(deliver=False))
    monkeypatch.setattr(drill.Endpoints, "from_env", classmethod(lambda cls: ENDPOINTS))
    clock = Clock()  # the polling's time: the test waits for nothing real
    started = clock.monotonic()
    code = drill.main(
        ["--severity", "warning", "--receiver", "marketplace-team", "--timeout", "0.3"],
        clock=clock,
    )
    assert code == 1
    # It gave up at its timeout, not before and not a poll interval too late.
    assert 0.3 <= clock.monotonic() - started <= 0.3 + drill_delivery.POLL_SECONDS
    assert "not delivered" in capsys.readouterr().out


def test_an_unreachable_alertmanager_is_a_setup_error(monkeypatch, capsys):
    def refuse(method, url, **kwargs):
        raise requests.ConnectionError(url)

    monkeypatch.setattr(promapi.requests, "request", refuse)
    monkeypatch.setattr(drill.Endpoints, "from_env", classmethod(lambda cls: ENDPOINTS))
    assert drill.main(["--receiver", "x", "--timeout", "1"]) == 2
    assert "connection refused" in capsys.readouterr().out


# ---------------------------------------------------------------- production timings


class Clock:
    """Fake time for ops.checks.drill: sleeping advances it, so minutes pass in microseconds."""

    def __init__(self, start=1_800_000_000.0):
        self.now = start

    def time(self):
        return self.now

    def monotonic(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


PRODUCTION = routing.ALERTMANAGER_CONFIG.read_text()


class GroupingAlertmanager:
    """Alertmanager's aggregation as the committed route has it: group_by [alertname, component],
    a new group notifies after group_wait, an alert joining a live group waits for the group's next
    group_interval tick. Groups outlive a resolved drill (they go at a tick after resolution, at
    least group_interval later), so a second drill within 5 minutes finds the first's group.
    """

    def __init__(self, clock, config=PRODUCTION):
        self.clock = clock
        self.config = config
        route = yaml.safe_load(config)["route"]
        self.group_by = route["group_by"]
        self.wait = promapi.parse_duration(route["group_wait"])
        self.interval = promapi.parse_duration(route["group_interval"])
        self.groups = {}  # key -> created
        self.sent = []  # (at, receiver, alertname)
        self.alertnames = []

    def __call__(self, method, url, **kwargs):
        now = self.clock.time()
        if url.endswith("/api/v2/status"):
            return _Resp(200, {"config": {"original": self.config}})
        if url.endswith("/api/v2/alerts") and method == "POST":
            alert = kwargs["json"][0]
            labels = alert["labels"]
            if alert["endsAt"] <= alert["startsAt"]:
                return _Resp(400, "start time must be before end time")
            if _parse(alert["endsAt"]) <= now + 1:  # a resolution: the group stays
                return _Resp(200, [])
            key = tuple(labels.get(name, "") for name in self.group_by)
            self.alertnames.append(labels["alertname"])
            if key not in self.groups:
                self.groups[key] = now
                at = now + self.wait
            else:
                created = self.groups[key]
                ticks = -(-(now - created - self.wait) // self.interval)
                at = created + self.wait + max(0, ticks) * self.interval
            self.sent.append((at, "marketplace-oncall", labels["alertname"]))
            return _Resp(200, [])
        if url.endswith("/api/notifications"):
            params = kwargs["params"]
            return _Resp(
                200,
                [
                    _note(receiver, at)
                    for at, receiver, name in self.sent
                    if at <= now and receiver == params["receiver"] and name == params["alertname"]
                ],
            )
        raise requests.ConnectionError(url)


def _parse(stamp):
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def test_a_second_drill_within_group_interval_is_its_own_group(monkeypatch):
    clock = Clock()
    fake = GroupingAlertmanager(clock)
    monkeypatch.setattr(promapi.requests, "request", fake)
    first = drill.run_drill(ENDPOINTS, "critical", receivers=["marketplace-oncall"], clock=clock)
    clock.sleep(60)  # well inside group_interval (5m) of the first drill's group
    second = drill.run_drill(ENDPOINTS, "critical", receivers=["marketplace-oncall"], clock=clock)
    assert first.group_wait == second.group_wait == 30
    assert first.ok and second.ok, (first, second)
    assert first.alertname != second.alertname
    assert first.alertname.startswith("MarketplaceDrill_")
    for result in (first, second):
        (delivery,) = result.deliveries
        assert 30 <= delivery.seconds < 31


def test_the_default_timeout_covers_group_wait_with_a_margin():
    assert routing.default_timeout(30) == 60
    assert routing.default_timeout(None) == 60
    assert routing.default_timeout(1) == 31
    assert routing.default_timeout(120) == 240
