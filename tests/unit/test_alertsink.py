"""The alert sink, in process: each kind of post Alertmanager sends is recorded and served back."""

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from alertsink import DEFAULT_RECEIVERS, __main__, create_app, parse
from ops.topology import load_env

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.unit

# Captured from Alertmanager 0.25 in the native stack (tests/integration), rendering this repo's
# alertmanager.yml and templates, when marketplace v2 was stopped and started again.
SLACK_FIRING = {
    "channel": "#marketplace-incidents",
    "username": "Alertmanager",
    "attachments": [
        {
            "title": "[FIRING:1] CRITICAL MarketplaceDown (v2)",
            "title_link": "http://127.0.0.1:56819/#/alerts?receiver=marketplace-oncall",
            "text": "*Marketplace v2 is down (127.0.0.1:44061)*\n"
            "Prometheus has failed every scrape of 127.0.0.1:44061 (marketplace "
            "v2) for 1 minute.\n"
            "• Severity: `critical` · Component: `marketplace` · Version: `v2`\n"
            "• Runbook: "
            "<https://github.com/marketplace-obs/marketplace-observability/blob/main/docs/runbooks/MarketplaceDown.md|https://github.com/marketplace-obs/marketplace-observability/blob/main/docs/runbooks/MarketplaceDown.md>\n"
            "• Dashboard: "
            "<http://localhost:3000/d/marketplace-slo?var-version=v2|http://localhost:3000/d/marketplace-slo?var-version=v2>\n"
            "\n"
            "Receiver: `marketplace-oncall`",
            "fallback": "[FIRING:1] MarketplaceDown marketplace (availability "
            "127.0.0.1:44061 marketplace critical v2) | "
            "http://127.0.0.1:56819/#/alerts?receiver=marketplace-oncall",
            "callback_id": "",
            "footer": "",
            "color": "danger",
            "mrkdwn_in": ["fallback", "pretext", "text"],
        }
    ],
}
SLACK_RESOLVED = {
    "channel": "#marketplace-incidents",
    "username": "Alertmanager",
    "attachments": [
        {
            "title": "[RESOLVED] CRITICAL MarketplaceDown (v2)",
            "title_link": "http://127.0.0.1:56819/#/alerts?receiver=marketplace-oncall",
            "text": ":white_check_mark: RESOLVED *Marketplace v2 is down "
            "(127.0.0.1:44061)*\n"
            "Prometheus has failed every scrape of 127.0.0.1:44061 (marketplace "
            "v2) for 1 minute.\n"
            "• Severity: `critical` · Component: `marketplace` · Version: `v2`\n"
            "• Runbook: "
            "<https://github.com/marketplace-obs/marketplace-observability/blob/main/docs/runbooks/MarketplaceDown.md|https://github.com/marketplace-obs/marketplace-observability/blob/main/docs/runbooks/MarketplaceDown.md>\n"
            "• Dashboard: "
            "<http://localhost:3000/d/marketplace-slo?var-version=v2|http://localhost:3000/d/marketplace-slo?var-version=v2>\n"
            "\n"
            "Receiver: `marketplace-oncall`",
            "fallback": "[RESOLVED] MarketplaceDown marketplace (availability "
            "127.0.0.1:44061 marketplace critical v2) | "
            "http://127.0.0.1:56819/#/alerts?receiver=marketplace-oncall",
            "callback_id": "",
            "footer": "",
            "color": "good",
            "mrkdwn_in": ["fallback", "pretext", "text"],
        }
    ],
}
PAGERDUTY_TRIGGER = {
    "routing_key": "localalertsink0dummy0routingkey0",
    "dedup_key": "d7ac4612f6f71dc7e5c6faef6cccfcb6625ee116279b75d9782a662ff6474eaf",
    "event_action": "trigger",
    "payload": {
        "summary": "MarketplaceDown: Marketplace v2 is down (127.0.0.1:44061)",
        "source": "Alertmanager",
        "severity": "critical",
        "custom_details": {
            "firing": "Labels:\n"
            " - alertname = MarketplaceDown\n"
            " - component = marketplace\n"
            " - family = availability\n"
            " - instance = 127.0.0.1:44061\n"
            " - job = marketplace\n"
            " - severity = critical\n"
            " - version = v2\n"
            "Annotations:\n"
            " - dashboard_url = "
            "http://localhost:3000/d/marketplace-slo?var-version=v2\n"
            " - description = Prometheus has failed every scrape "
            "of 127.0.0.1:44061 (marketplace v2) for 1 minute.\n"
            " - runbook_url = "
            "https://github.com/marketplace-obs/marketplace-observability/blob/main/docs/runbooks/MarketplaceDown.md\n"
            " - summary = Marketplace v2 is down "
            "(127.0.0.1:44061)\n"
            "Source: "
            "http://127.0.0.1:60775/graph?g0.expr=up%7Bjob%3D%22marketplace%22%7D+%3D%3D+0&g0.tab=1\n",
            "num_firing": "1",
            "num_resolved": "0",
            "resolved": "",
        },
    },
    "client": "Alertmanager",
    "client_url": "http://127.0.0.1:56819/#/alerts?receiver=marketplace-oncall",
    "links": [
        {
            "href": "https://github.com/marketplace-obs/marketplace-observability/blob/main/docs/runbooks/MarketplaceDown.md",
            "text": "Runbook",
        },
        {"href": "http://localhost:3000/d/marketplace-slo?var-version=v2", "text": "Dashboard"},
    ],
}
PAGERDUTY_RESOLVE = {
    "routing_key": "localalertsink0dummy0routingkey0",
    "dedup_key": "d7ac4612f6f71dc7e5c6faef6cccfcb6625ee116279b75d9782a662ff6474eaf",
    "event_action": "resolve",
    "payload": {
        "summary": "MarketplaceDown: Marketplace v2 is down (127.0.0.1:44061)",
        "source": "Alertmanager",
        "severity": "critical",
        "custom_details": {
            "firing": "",
            "num_firing": "0",
            "num_resolved": "1",
            "resolved": "Labels:\n"
            " - alertname = MarketplaceDown\n"
            " - component = marketplace\n"
            " - family = availability\n"
            " - instance = 127.0.0.1:44061\n"
            " - job = marketplace\n"
            " - severity = critical\n"
            " - version = v2\n"
            "Annotations:\n"
            " - dashboard_url = "
            "http://localhost:3000/d/marketplace-slo?var-version=v2\n"
            " - description = Prometheus has failed every "
            "scrape of 127.0.0.1:44061 (marketplace v2) for 1 "
            "minute.\n"
            " - runbook_url = "
            "https://github.com/marketplace-obs/marketplace-observability/blob/main/docs/runbooks/MarketplaceDown.md\n"
            " - summary = Marketplace v2 is down "
            "(127.0.0.1:44061)\n"
            "Source: "
            "http://127.0.0.1:60775/graph?g0.expr=up%7Bjob%3D%22marketplace%22%7D+%3D%3D+0&g0.tab=1\n",
        },
    },
    "client": "Alertmanager",
    "client_url": "http://127.0.0.1:56819/#/alerts?receiver=marketplace-oncall",
    "links": [
        {
            "href": "https://github.com/marketplace-obs/marketplace-observability/blob/main/docs/runbooks/MarketplaceDown.md",
            "text": "Runbook",
        },
        {"href": "http://localhost:3000/d/marketplace-slo?var-version=v2", "text": "Dashboard"},
    ],
}
WEBHOOK_WATCHDOG = {
    "version": "4",
    "groupKey": '{}/{alertname="Watchdog"}:{alertname="Watchdog"}',
    "truncatedAlerts": 0,
    "status": "firing",
    "receiver": "watchdog",
    "groupLabels": {"alertname": "Watchdog"},
    "commonLabels": {"alertname": "Watchdog", "severity": "none"},
    "commonAnnotations": {"summary": "The alerting pipeline works"},
    "externalURL": "http://alertmanager:9093",
    "alerts": [
        {
            "status": "firing",
            "labels": {"alertname": "Watchdog", "severity": "none"},
            "annotations": {"summary": "The alerting pipeline works"},
            "startsAt": "2026-11-26T17:00:00.000Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph?g0.expr=vector%281%29",
            "fingerprint": "e0b3a2c6e4b1f2d3",
        }
    ],
}


@pytest.fixture
def client():
    return create_app({"TESTING": True}).test_client()


def notifications(client, **params):
    response = client.get("/api/notifications", query_string=params)
    assert response.status_code == 200
    return response.get_json()


def test_slack_post_is_answered_like_slack_and_recorded_for_its_receiver(client):
    response = client.post("/slack/marketplace-oncall", json=SLACK_FIRING)

    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok"
    [entry] = notifications(client)
    assert entry["receiver"] == "marketplace-oncall"
    assert entry["kind"] == "slack"
    assert entry["alertnames"] == ["MarketplaceDown"]
    assert entry["status"] == "firing"
    assert entry["payload"] == SLACK_FIRING
    assert entry["received_at"].endswith("Z")


def test_resolved_slack_message_is_recorded_as_resolved(client):
    client.post("/slack/marketplace-oncall", json=SLACK_RESOLVED)

    [entry] = notifications(client)
    assert entry["status"] == "resolved"
    assert entry["alertnames"] == ["MarketplaceDown"]


def test_slack_status_falls_back_to_the_attachment_colour(client):
    plain = {"attachments": [{"title": "Marketplace is back", "color": "good"}]}
    client.post("/slack/default", json=plain)

    [entry] = notifications(client)
    assert entry["status"] == "resolved"
    assert entry["alertnames"] == []


def test_pagerduty_event_is_answered_like_events_api_v2(client):
    response = client.post("/pagerduty/marketplace-oncall/v2/enqueue", json=PAGERDUTY_TRIGGER)

    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "success"
    assert body["dedup_key"] == PAGERDUTY_TRIGGER["dedup_key"]
    [entry] = notifications(client, kind="pagerduty")
    assert entry["receiver"] == "marketplace-oncall"
    assert entry["alertnames"] == ["MarketplaceDown"]
    assert entry["status"] == "firing"


def test_pagerduty_name_comes_from_the_summary_without_the_default_details():
    event = {"event_action": "trigger", "payload": {"summary": "Watchdog: heartbeat"}}
    assert parse.summarise("pagerduty", event) == (["Watchdog"], "firing")


def test_pagerduty_resolve_event_is_recorded_as_resolved_with_the_same_dedup_key(client):
    client.post("/pagerduty/marketplace-oncall/v2/enqueue", json=PAGERDUTY_TRIGGER)
    client.post("/pagerduty/marketplace-oncall/v2/enqueue", json=PAGERDUTY_RESOLVE)

    trigger, resolve = notifications(client, kind="pagerduty")
    assert (trigger["status"], resolve["status"]) == ("firing", "resolved")
    assert resolve["payload"]["dedup_key"] == trigger["payload"]["dedup_key"]
    assert resolve["alertnames"] == ["MarketplaceDown"]


def test_webhook_post_takes_names_and_status_from_the_alertmanager_fields(client):
    response = client.post("/webhook/watchdog", json=WEBHOOK_WATCHDOG)

    assert response.status_code == 200
    [entry] = notifications(client)
    assert (entry["receiver"], entry["kind"]) == ("watchdog", "webhook")
    assert entry["alertnames"] == ["Watchdog"]
    assert entry["status"] == "firing"


def test_notifications_filter_by_receiver_kind_alertname_and_status(client):
    client.post("/slack/marketplace-oncall", json=SLACK_FIRING)
    client.post("/pagerduty/marketplace-oncall/v2/enqueue", json=PAGERDUTY_TRIGGER)
    client.post("/webhook/watchdog", json=WEBHOOK_WATCHDOG)
    client.post("/slack/marketplace-oncall", json=SLACK_RESOLVED)

    assert len(notifications(client)) == 4
    assert len(notifications(client, receiver="marketplace-oncall")) == 3
    assert len(notifications(client, alertname="MarketplaceDown", kind="pagerduty")) == 1
    assert [e["kind"] for e in notifications(client, kind="webhook")] == ["webhook"]
    down = notifications(client, alertname="MarketplaceDown", kind="slack")
    assert [e["status"] for e in down] == ["firing", "resolved"]
    assert len(notifications(client, alertname="MarketplaceDown", status="resolved")) == 1
    assert notifications(client, receiver="marketplace-team") == []


def test_notifications_are_listed_oldest_first(client):
    client.post("/slack/marketplace-oncall", json=SLACK_FIRING)
    client.post("/slack/marketplace-oncall", json=SLACK_RESOLVED)

    first, second = notifications(client)
    assert first["id"] < second["id"]
    assert (first["status"], second["status"]) == ("firing", "resolved")


def test_unknown_kind_filter_is_refused(client):
    assert client.get("/api/notifications?kind=email").status_code == 400


def test_delete_forgets_everything(client):
    client.post("/webhook/watchdog", json=WEBHOOK_WATCHDOG)
    client.post("/slack/default", json=SLACK_FIRING)

    response = client.delete("/api/notifications")

    assert response.get_json() == {"deleted": 2}
    assert notifications(client) == []


def test_body_that_is_not_a_json_object_is_refused_and_not_recorded(client):
    response = client.post(
        "/slack/default", data="not json", headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 400
    assert client.post("/webhook/default", json=[1, 2]).status_code == 400
    assert notifications(client) == []


def test_each_notification_is_logged_as_one_json_line(client, capsys):
    client.post("/pagerduty/marketplace-oncall/v2/enqueue", json=PAGERDUTY_TRIGGER)

    lines = [line for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["message"] == "Notification received"
    assert record["level"] == "INFO"
    assert record["receiver"] == "marketplace-oncall"
    assert record["kind"] == "pagerduty"
    assert record["alertnames"] == ["MarketplaceDown"]
    assert record["payload"]["dedup_key"] == PAGERDUTY_TRIGGER["dedup_key"]


def test_the_oldest_notifications_go_once_the_bound_is_reached():
    client = create_app({"TESTING": True, "MAX_NOTIFICATIONS": 2}).test_client()
    for receiver in ("a", "b", "c"):
        client.post(f"/webhook/{receiver}", json=WEBHOOK_WATCHDOG)

    assert [e["receiver"] for e in notifications(client)] == ["b", "c"]


def test_health_and_metrics_endpoints(client):
    client.post("/slack/marketplace-team", json=SLACK_FIRING)

    assert client.get("/healthz").get_json() == {"status": "ok"}
    metrics = client.get("/metrics").get_data(as_text=True)
    assert (
        'alertsink_notifications_total{kind="slack",receiver="marketplace-team",status="firing"}'
        in metrics
    )


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[FIRING:2] MarketplaceHighSearchLatency marketplace", ["MarketplaceHighSearchLatency"]),
        ("[RESOLVED] WARNING MarketplaceHighSearchLatency (v2)", ["MarketplaceHighSearchLatency"]),
        ("*Alert:* x\n - alertname = Watchdog\n", ["Watchdog"]),
        ('{alertname="MarketplaceDown", version="v2"}', ["MarketplaceDown"]),
        ("alertname: `MarketplaceLowCacheHitRate`", ["MarketplaceLowCacheHitRate"]),
    ],
)
def test_alert_names_are_read_from_the_usual_template_shapes(text, names):
    assert parse.summarise("slack", {"attachments": [{"text": text}]})[0] == names


def received(receiver: str, kind: str = "slack", status: str = "firing") -> float:
    labels = {"receiver": receiver, "kind": kind, "status": status}
    return REGISTRY.get_sample_value("alertsink_notifications_total", labels) or 0.0


def test_posts_to_unknown_receivers_are_kept_but_counted_under_other():
    client = create_app({"TESTING": True, "RECEIVERS": "marketplace-oncall"}).test_client()
    other, known = received("other"), received("marketplace-oncall")

    for path in ("/slack/x-1", "/slack/x-2", "/slack/marketplace-oncall"):
        assert client.post(path, json=SLACK_FIRING).status_code == 200

    assert [e["receiver"] for e in notifications(client)] == ["x-1", "x-2", "marketplace-oncall"]
    assert received("other") == other + 2
    assert received("marketplace-oncall") == known + 1
    metrics = client.get("/metrics").get_data(as_text=True)
    assert 'receiver="x-1"' not in metrics and 'receiver="x-2"' not in metrics


def test_known_receivers_default_to_the_contract_and_alertmanager_yml():
    contract = (REPO / "docs" / "contracts.md").read_text()
    line = re.search(r"^Receivers: (.+)$", contract, re.MULTILINE).group(1)
    assert tuple(re.findall(r"`([\w-]+)`", line)) == DEFAULT_RECEIVERS
    config = yaml.safe_load((REPO / "alertmanager" / "alertmanager.yml").read_text())
    assert tuple(r["name"] for r in config["receivers"]) == DEFAULT_RECEIVERS
    app = create_app({"TESTING": True})
    assert app.extensions["alertsink.receivers"] == set(DEFAULT_RECEIVERS)


def test_known_receivers_come_from_alertsink_receivers(monkeypatch):
    monkeypatch.setenv("ALERTSINK_RECEIVERS", "team-a, team-b,")

    app = create_app({"TESTING": True})

    assert app.extensions["alertsink.receivers"] == {"team-a", "team-b"}


def test_other_is_not_a_receiver_name():
    with pytest.raises(ValueError, match="other"):
        create_app({"TESTING": True, "RECEIVERS": "default,other"})


def test_a_webhook_status_outside_firing_and_resolved_is_recorded_as_unknown(client):
    client.post("/webhook/watchdog", json={**WEBHOOK_WATCHDOG, "status": "made-up-1"})

    [entry] = notifications(client)
    assert entry["status"] == "unknown"
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "made-up-1" not in metrics


def test_the_port_is_required_from_the_environment_or_the_command_line(monkeypatch, capsys):
    monkeypatch.delenv("ALERTSINK_PORT", raising=False)
    with pytest.raises(SystemExit):
        __main__.parse_args([])
    assert "ALERTSINK_PORT" in capsys.readouterr().err

    assert __main__.parse_args(["--port", "40111"]).port == 40111
    monkeypatch.setenv("ALERTSINK_PORT", "40112")
    assert __main__.parse_args([]).port == 40112
    assert __main__.parse_args(["--port", "40113"]).port == 40113


def test_no_port_is_written_in_the_sink_or_its_image():
    port = load_env()["ALERTSINK_PORT"]
    for path in [REPO / "alertsink" / "Dockerfile", *(REPO / "alertsink").rglob("*.py")]:
        assert not re.search(rf"(?<!\d){port}(?!\d)", path.read_text()), path
    dockerfile = (REPO / "alertsink" / "Dockerfile").read_text()
    healthcheck = dockerfile[dockerfile.index("HEALTHCHECK") :]
    assert "os.environ['ALERTSINK_PORT']" in healthcheck.split("\nCMD")[0]
