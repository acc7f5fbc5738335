"""ops.drill: receiver derivation, sink polling and delivery timing against fake HTTP answers."""

import json
import time
from datetime import UTC, datetime

import pytest
import requests

from ops import _http, drill
from tests.conftest import require_binary
from tests.unit.ops_fakes import ENDPOINTS

pytestmark = pytest.mark.unit


def test_amtool_output_gives_one_or_several_receivers():
    assert drill.parse_amtool_receivers("marketplace-oncall\n") == ["marketplace-oncall"]
    assert drill.parse_amtool_receivers("a,b\n") == ["a", "b"]
    assert drill.parse_amtool_receivers("") == []


def test_without_amtool_or_routing_file_the_documented_mapping_is_used(tmp_path):
    labels = drill.drill_labels("warning", "MarketplaceDrill", "id")
    receivers, source = drill.expected_receivers(labels, config=tmp_path / "absent.yml")
    assert receivers == ["marketplace-team"]
    assert "built-in mapping" in source


def test_amtool_decides_from_the_routing_file(tmp_path):
    amtool = require_binary("amtool")
    config = tmp_path / "am.yml"
    config.write_text(
        "route:\n  receiver: default\n  routes:\n"
        "  - matchers: ['severity=\"info\"', 'component=\"marketplace\"']\n"
        "    receiver: chat\n"
        "receivers:\n- name: default\n- name: chat\n"
    )
    info = drill.drill_labels("info", "MarketplaceDrill", "id")
    assert drill.expected_receivers(info, config, amtool) == (
        ["chat"],
        "amtool config routes test on am.yml",
    )
    crit = drill.drill_labels("critical", "MarketplaceDrill", "id")
    assert drill.expected_receivers(crit, config, amtool)[0] == ["default"]


def _note(receiver, at, status="firing", kind="slack"):
    stamp = datetime.fromtimestamp(at, UTC).isoformat().replace("+00:00", "Z")
    return {"receiver": receiver, "received_at": stamp, "status": status, "kind": kind}


def test_only_firing_notifications_after_the_send_count():
    sent = 1_000_000.0
    items = [_note("r", sent - 60), _note("r", sent + 2, "resolved"), _note("r", sent + 3)]
    assert drill.new_firing(0, items, sent) == [items[2]]


def test_without_timestamps_notifications_past_the_baseline_count():
    items = [{"receiver": "r"}, {"receiver": "r", "status": "firing"}]
    assert drill.new_firing(1, items, 0.0) == [items[1]]


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
    monkeypatch.setattr(_http.requests, "request", fake)
    monkeypatch.setattr(drill, "POLL_SECONDS", 0.01)
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
    monkeypatch.setattr(_http.requests, "request", FakeAlertPath(deliver=False))
    monkeypatch.setattr(drill, "POLL_SECONDS", 0.01)
    monkeypatch.setattr(drill.Endpoints, "from_env", classmethod(lambda cls: ENDPOINTS))
    started = time.monotonic()
    code = drill.main(
        ["--severity", "warning", "--receiver", "marketplace-team", "--timeout", "0.3"]
    )
    assert code == 1
    assert time.monotonic() - started < 5
    assert "not delivered" in capsys.readouterr().out


def test_an_unreachable_alertmanager_is_a_setup_error(monkeypatch, capsys):
    def refuse(method, url, **kwargs):
        raise requests.ConnectionError(url)

    monkeypatch.setattr(_http.requests, "request", refuse)
    monkeypatch.setattr(drill.Endpoints, "from_env", classmethod(lambda cls: ENDPOINTS))
    assert drill.main(["--receiver", "x", "--timeout", "1"]) == 2
    assert "connection refused" in capsys.readouterr().out
