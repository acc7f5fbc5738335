"""The alert sink, in process: each kind of post Alertmanager sends is recorded and served back."""

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import REGISTRY

from alertsink import DEFAULT_RECEIVERS, __main__, create_app, parse
from ops.stack.topology import load_env

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.unit

# Captured from Alertmanager 0.25 in the native stack (tests/integration), rendering this repo's
# alertmanager.yml and templates, when marketplace v2 was stopped and started again.
PAYLOADS = Path(__file__).parent / "data" / "alertmanager"


def _payload(name: str) -> dict:
    return json.loads((PAYLOADS / f"{name}.json").read_text(encoding="utf-8"))


SLACK_FIRING = _payload("slack-firing")
SLACK_RESOLVED = _payload("slack-resolved")
PAGERDUTY_TRIGGER = _payload("pagerduty-trigger")
PAGERDUTY_RESOLVE = _payload("pagerduty-resolve")
WEBHOOK_WATCHDOG = _payload("webhook-watchdog")


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
