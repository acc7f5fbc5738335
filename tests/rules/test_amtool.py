"""amtool over the committed Alertmanager config and templates.

The receiver every alert should reach is derived from the alert rules' own labels by the routing
policy below (docs/alerting.md), then checked against Alertmanager's routing tree with
`amtool config routes test`, so a new alert cannot escape the route tests.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import rulefiles as rf

from ops.stack import topology
from tests.conftest import IN_CI

pytestmark = pytest.mark.rules

CONFIG = rf.ALERTMANAGER_DIR / "alertmanager.yml"
SECRETS = rf.ALERTMANAGER_DIR / "secrets"
TEMPLATE_GLOB = str(rf.ALERTMANAGER_DIR / "templates" / "*.tmpl")
SECRETS_MOUNT = "/run/secrets/"
RUNBOOK = f"{rf.RUNBOOK_BASE}MarketplaceDown.md"
DASHBOARD = f"{rf.GRAFANA_BASE}marketplace-slo"
VERSIONS = ("v1", "v2")


def expected_receivers(labels: dict) -> list[str]:
    """The routing policy, written independently of alertmanager.yml."""
    if labels.get("alertname") == "Watchdog":
        return ["watchdog"]
    if labels.get("component") == "marketplace":
        by_severity = {
            "critical": "marketplace-oncall",
            "warning": "marketplace-team",
            "info": "marketplace-info",
        }
        if labels.get("severity") in by_severity:
            return [by_severity[labels["severity"]]]
    return ["default"]


EDGE_CASES = {
    "an unknown component": {"alertname": "Mystery", "severity": "critical", "component": "x"},
    "a critical alert of another component": {
        "alertname": "LokiRequestErrors",
        "severity": "critical",
        "component": "loki",
    },
    "a warning of another component": {
        "alertname": "TempoSlow",
        "severity": "warning",
        "component": "tempo",
    },
    "an info alert of the marketplace": {
        "alertname": "MarketplaceCatalogReloaded",
        "severity": "info",
        "component": "marketplace",
    },
    "an info alert of another component": {
        "alertname": "GrafanaRestarted",
        "severity": "info",
        "component": "grafana",
    },
    "a marketplace alert with no severity": {"alertname": "Odd", "component": "marketplace"},
    "a marketplace alert with an unknown severity": {
        "alertname": "Odd",
        "severity": "page",
        "component": "marketplace",
    },
    "a severity-none alert that is not the Watchdog": {
        "alertname": "Heartbeat",
        "severity": "none",
        "component": "alerting",
    },
    "the Watchdog": {"alertname": "Watchdog", "severity": "none", "component": "alerting"},
    "no labels but a name": {"alertname": "Bare"},
}


def _amtool(*args: str) -> subprocess.CompletedProcess:
    return rf.run_tool("amtool", *args, timeout=60)


def _route(labels: dict, expected: list[str]) -> list[str]:
    result = _amtool(
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        f"--verify.receivers={','.join(expected)}",
        *(f"{k}={v}" for k, v in sorted(labels.items())),
    )
    got = [r.strip() for r in result.stdout.strip().splitlines()[0].split(",")]
    assert result.returncode == 0, f"{labels} went to {got}, not {expected}: {result.stderr}"
    return got


def _rule_labels(alert: rf.Rule) -> dict:
    # version comes from the series (by version); it must not change the route
    return {"alertname": alert.name, "version": "v2", **alert.labels}


# --- the config loads ----------------------------------------------------------------------------


def test_amtool_accepts_the_config_and_its_templates():
    result = _amtool("check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr
    templates = re.search(r"(\d+) templates", result.stdout)
    assert templates and int(templates.group(1)) >= 1, result.stdout


def test_the_config_loads_without_any_secret_file_present(tmp_path):
    # *_file credentials are read at notification time, so a checkout with no secrets (CI) or a
    # broken secret mount still loads; point them all at a directory that does not exist.
    missing = tmp_path / "no-such-dir"
    text = CONFIG.read_text(encoding="utf-8").replace(SECRETS_MOUNT, f"{missing}/")
    text = text.replace("templates/*.tmpl", TEMPLATE_GLOB)
    assert str(missing) in text
    config = tmp_path / "alertmanager.yml"
    config.write_text(text, encoding="utf-8")
    result = _amtool("check-config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr


# --- routes --------------------------------------------------------------------------------------


@pytest.mark.parametrize("alert", rf.alerts(), ids=[a.id for a in rf.alerts()])
def test_every_alert_in_the_rule_files_reaches_the_receiver_its_labels_call_for(alert):
    labels = _rule_labels(alert)
    assert _route(labels, expected_receivers(labels)) == expected_receivers(labels)


@pytest.mark.parametrize("labels", EDGE_CASES.values(), ids=EDGE_CASES.keys())
def test_edge_cases_reach_the_receiver_the_policy_calls_for(labels):
    assert _route(labels, expected_receivers(labels)) == expected_receivers(labels)


def test_the_route_tests_reach_every_receiver():
    reached = {r for a in rf.alerts() for r in expected_receivers(_rule_labels(a))}
    reached |= {r for labels in EDGE_CASES.values() for r in expected_receivers(labels)}
    defined = {r["name"] for r in rf.alertmanager_config()["receivers"]}
    assert reached == defined


def test_routes_use_matchers_and_keep_the_spec_grouping_plus_version_and_timings():
    route = rf.alertmanager_config()["route"]
    assert route["group_by"] == ["alertname", "component", "version"]
    assert (route["group_wait"], route["group_interval"], route["repeat_interval"]) == (
        "30s",
        "5m",
        "4h",
    )
    children = route["routes"]
    assert all("matchers" in r and "match" not in r and "match_re" not in r for r in children)
    oncall = next(r for r in children if r["receiver"] == "marketplace-oncall")
    assert oncall.get("continue") is True
    watchdog = next(r for r in children if r["receiver"] == "watchdog")
    assert rf.seconds(watchdog["repeat_interval"]) < rf.seconds(route["repeat_interval"])


def _group_by(receiver: str) -> list[str]:
    """The group_by of the route that delivers to `receiver` (a child inherits the root's)."""
    route = rf.alertmanager_config()["route"]
    child = next((r for r in route["routes"] if r["receiver"] == receiver), route)
    return child.get("group_by", route["group_by"])


VERSIONED = [a for a in rf.alerts() if a.labels.get("component") == "marketplace"]


@pytest.mark.parametrize("alert", VERSIONED, ids=[a.id for a in VERSIONED])
def test_the_same_alert_of_v1_and_v2_lands_in_two_groups_on_its_route(alert):
    # v1's latency alerts fire by design; were v2's alert of the same name in v1's open group, it
    # would wait for that group's next flush (group_interval) instead of group_wait.
    keys = []
    for version in VERSIONS:
        labels = {**_rule_labels(alert), "version": version}
        (receiver,) = _route(labels, expected_receivers(labels))
        keys.append(tuple(labels.get(name, "") for name in _group_by(receiver)))
    if "version" in alert.labels:
        pytest.fail(f"{alert.id} sets version itself; it must come from the series")
    assert keys[0] != keys[1], f"{alert.id}: v1 and v2 share the group {keys[0]}"


def test_inhibition_mutes_the_quieter_alert_of_the_same_family_component_and_version():
    rules = rf.alertmanager_config()["inhibit_rules"]
    assert all("source_matchers" in r and "target_matchers" in r for r in rules)
    critical = next(r for r in rules if r["source_matchers"] == ['severity="critical"'])
    assert "warning" in critical["target_matchers"][0]
    assert set(critical["equal"]) == {"family", "component", "version"}
    # the twins the spec names share a family, so the critical one can mute the warning one
    family = {a.name: a.labels.get("family") for a in rf.alerts()}
    assert family["MarketplaceCriticalLatency"] == family["MarketplaceHighSearchLatency"]


# --- receivers and secrets -----------------------------------------------------------------------


def _receivers() -> dict[str, dict]:
    return {r["name"]: r for r in rf.alertmanager_config()["receivers"]}


def _sink() -> str:
    return f"http://alertsink:{topology.load_env()['ALERTSINK_PORT']}"


def _secret_example(path: str) -> str:
    assert path.startswith(SECRETS_MOUNT), path
    example = SECRETS / f"{path.removeprefix(SECRETS_MOUNT)}.example"
    assert example.exists(), f"{example.relative_to(rf.REPO)} is missing"
    return example.read_text(encoding="utf-8").strip()


@pytest.mark.parametrize("name", sorted(_receivers()))
def test_every_slack_config_reads_its_url_from_a_secret_pointing_at_its_sink_route(name):
    for slack in _receivers()[name].get("slack_configs", []):
        assert "api_url" not in slack
        assert slack["send_resolved"] is True
        assert _secret_example(slack["api_url_file"]) == f"{_sink()}/slack/{name}"
        assert slack["channel"].startswith("#")
        assert "slack.marketplace.title" in slack["title"]
        assert "slack.marketplace.text" in slack["text"]


def test_the_oncall_receiver_pages_and_posts_and_the_others_never_page():
    receivers = _receivers()
    oncall = receivers["marketplace-oncall"]
    (pagerduty,) = oncall["pagerduty_configs"]
    assert not {"routing_key", "service_key", "service_key_file"} & set(pagerduty)
    assert re.fullmatch(r"[A-Za-z0-9]{32}", _secret_example(pagerduty["routing_key_file"]))
    assert pagerduty["url"] == f"{_sink()}/pagerduty/marketplace-oncall/v2/enqueue"
    assert pagerduty["send_resolved"] is True
    assert oncall["slack_configs"]
    for name, receiver in receivers.items():
        if name != "marketplace-oncall":
            assert "pagerduty_configs" not in receiver, name


def test_the_watchdog_receiver_is_a_webhook_to_the_sink():
    (hook,) = _receivers()["watchdog"]["webhook_configs"]
    assert hook["url"] == f"{_sink()}/webhook/watchdog"


def test_every_example_secret_is_used_by_the_config():
    text = CONFIG.read_text(encoding="utf-8")
    for example in SECRETS.glob("*.example"):
        assert f"{SECRETS_MOUNT}{example.name.removesuffix('.example')}" in text, example.name


# --- templates -----------------------------------------------------------------------------------


def _annotations(alert: rf.Rule, labels: dict) -> dict:
    """The rule's annotations as Prometheus would send them for these labels ($value aside)."""

    def fill(text: str) -> str:
        text = re.sub(r"\{\{ \$value[^}]*\}\}", "1", text)
        return re.sub(r"\{\{ \$labels\.(\w+) \}\}", lambda m: labels.get(m[1], ""), text)

    return {k: fill(v) for k, v in alert.annotations.items()}


def _common(dicts: list[dict]) -> dict:
    # what Alertmanager puts in CommonLabels / CommonAnnotations: pairs every alert has
    return {k: v for k, v in dicts[0].items() if all(d.get(k) == v for d in dicts[1:])}


def _template_data(status: str = "firing", versions: tuple[str, ...] = ("v2", "v1")) -> dict:
    """A MarketplaceDown group as Alertmanager builds it, one alert per version."""
    rule = next(a for a in rf.alerts() if a.name == "MarketplaceDown")

    def alert(version: str) -> dict:
        instance = f"marketplace-{version}:8000"
        labels = {"alertname": rule.name, **rule.labels, "version": version, "instance": instance}
        return {
            "status": status,
            "labels": labels,
            "annotations": _annotations(rule, labels),
            "startsAt": "2026-11-26T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": instance,
        }

    alerts = [alert(v) for v in versions]
    return {
        "receiver": "marketplace-oncall",
        "status": status,
        "alerts": alerts,
        "groupLabels": {"alertname": rule.name, "component": rule.labels["component"]},
        "commonLabels": _common([a["labels"] for a in alerts]),
        "commonAnnotations": _common([a["annotations"] for a in alerts]),
        "externalURL": "http://127.0.0.1:9093",
    }


def _unsupported(message: str) -> None:
    """A CI run must render the templates: there a missing amtool feature fails, elsewhere skips."""
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def render(tmp_path_factory):
    help_text = _amtool("template", "render", "--help")
    if help_text.returncode != 0 or "--template.data" not in help_text.stdout + help_text.stderr:
        _unsupported("this amtool has no `template render --template.data`")
    directory = tmp_path_factory.mktemp("template-data")

    def _render(text: str, data: dict) -> str:
        data_file = directory / "data.json"
        data_file.write_text(json.dumps(data), encoding="utf-8")
        result = _amtool(
            "template",
            "render",
            f"--template.glob={TEMPLATE_GLOB}",
            f"--template.text={text}",
            f"--template.data={data_file}",
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    return _render


def test_a_missing_template_renderer_fails_under_ci_and_skips_elsewhere(monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "IN_CI", True)
    with pytest.raises(pytest.fail.Exception):
        _unsupported("no renderer")
    monkeypatch.setattr(sys.modules[__name__], "IN_CI", False)
    with pytest.raises(pytest.skip.Exception):
        _unsupported("no renderer")


def test_the_slack_title_names_status_count_severity_and_alert(render):
    title = render('{{ template "slack.marketplace.title" . }}', _template_data())
    assert title == "[FIRING:2] CRITICAL MarketplaceDown"
    resolved = render('{{ template "slack.marketplace.title" . }}', _template_data("resolved"))
    assert resolved == "[RESOLVED] CRITICAL MarketplaceDown"


def test_the_slack_text_shows_summary_severity_links_and_receiver_for_every_alert(render):
    text = render('{{ template "slack.marketplace.text" . }}', _template_data())
    for version in ("v2", "v1"):
        assert f"*Marketplace {version} is down (marketplace-{version}:8000)*" in text
        assert f"<{DASHBOARD}?var-version={version}|" in text
    assert text.count("Severity: `critical`") == 2
    assert f"<{RUNBOOK}|" in text
    assert text.endswith("Receiver: `marketplace-oncall`")
    assert "RESOLVED" not in text
    assert "RESOLVED" in render(
        '{{ template "slack.marketplace.text" . }}', _template_data("resolved")
    )


def test_the_pagerduty_fields_fall_back_when_the_group_has_no_common_summary(render):
    data = _template_data()
    assert "summary" not in data["commonAnnotations"]
    description = render('{{ template "pagerduty.marketplace.description" . }}', data)
    assert description == "MarketplaceDown: Marketplace v2 is down (marketplace-v2:8000) (2 alerts)"
    data["commonAnnotations"]["summary"] = "Both down"
    assert render('{{ template "pagerduty.marketplace.description" . }}', data) == (
        "MarketplaceDown: Both down"
    )
    assert render('{{ template "pagerduty.marketplace.severity" . }}', data) == "critical"
    data["commonLabels"].pop("severity")
    assert render('{{ template "pagerduty.marketplace.severity" . }}', data) == "critical"


def _templated_fields(receiver: dict):
    """(where, template text) of every templated string in a receiver's configs."""
    for kind, configs in receiver.items():
        for i, config in enumerate(configs if isinstance(configs, list) else []):
            for key, value in config.items():
                if isinstance(value, str) and "{{" in value:
                    yield f"{kind}[{i}].{key}", value
            for j, link in enumerate(config.get("links") or []):
                yield f"{kind}[{i}].links[{j}].href", link["href"]


@pytest.mark.parametrize("versions", [("v2", "v1"), ("v2",)], ids=["two versions", "one version"])
def test_every_templated_field_of_every_receiver_renders_for_a_group(render, versions):
    data = _template_data(versions=versions)
    for name, receiver in _receivers().items():
        for where, text in _templated_fields(receiver):
            rendered = render(text, data)
            assert rendered and "<no value>" not in rendered, f"{name} {where}: {rendered!r}"


@pytest.mark.parametrize(
    ("versions", "dashboard"),
    [(("v2", "v1"), DASHBOARD), (("v2",), f"{DASHBOARD}?var-version=v2")],
    ids=["two versions", "one version"],
)
def test_the_pagerduty_links_point_at_the_runbook_and_the_dashboard(render, versions, dashboard):
    (pagerduty,) = _receivers()["marketplace-oncall"]["pagerduty_configs"]
    data = _template_data(versions=versions)
    links = {link["text"]: render(link["href"], data) for link in pagerduty["links"]}
    assert links == {"Runbook": RUNBOOK, "Dashboard": dashboard}
    assert render(pagerduty["severity"], data) == "critical"
    assert render(pagerduty["description"], data).startswith(
        "MarketplaceDown: Marketplace v2 is down (marketplace-v2:8000)"
    )


def test_every_template_the_config_names_is_defined(render):
    names = set(re.findall(r'template "([^"]+)"', CONFIG.read_text(encoding="utf-8")))
    assert names
    for name in sorted(names):
        assert render(f'{{{{ template "{name}" . }}}}', _template_data()), name
