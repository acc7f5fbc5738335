"""verify: checklist rows built from fake answers of Prometheus, Alertmanager and the sink."""

import json

import pytest
import requests

from ops import promapi, rulefiles
from ops.checks import rows as verify_rows
from ops.checks import verify
from ops.promapi import Endpoints
from tests.unit.ops.fakes import ENDPOINTS

pytestmark = pytest.mark.unit

CONTRACT_TABLE = """
| name | type | labels |
|---|---|---|
| `marketplace_search_total` | counter | |
| `marketplace_search_errors_total` | counter | `error_type` (fixed set, incl. `injected`) |
| `marketplace_cache_hits_total`, `marketplace_cache_misses_total` | counter | `cache` |
| `marketplace_search_duration_seconds` | histogram | |
| `marketplace_cache_entries` | gauge | `cache` |
"""


def test_contract_metrics_reads_every_name_of_a_row_with_its_type():
    metrics = verify_rows.contract_metrics(CONTRACT_TABLE)
    assert metrics == {
        "marketplace_search_total": "counter",
        "marketplace_search_errors_total": "counter",
        "marketplace_cache_hits_total": "counter",
        "marketplace_cache_misses_total": "counter",
        "marketplace_search_duration_seconds": "histogram",
        "marketplace_cache_entries": "gauge",
    }


def test_contract_metrics_of_the_real_contract_include_the_spec_series():
    metrics = verify_rows.contract_metrics(verify_rows.CONTRACTS.read_text(encoding="utf-8"))
    assert metrics["marketplace_search_duration_seconds"] == "histogram"
    assert metrics["marketplace_http_requests_total"] == "counter"
    assert "marketplace_build_info" in metrics
    assert len(metrics) >= 12


def test_histograms_are_checked_through_their_buckets():
    assert verify_rows.series_name("x_seconds", "histogram") == "x_seconds_bucket"
    assert verify_rows.series_name("x_total", "counter") == "x_total"


def test_rule_names_come_from_the_rule_files(tmp_path):
    (tmp_path / "a.yml").write_text(
        "groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: up\n"
        "  - alert: Boom\n    expr: up == 0\n"
    )
    assert verify_rows.rule_names([tmp_path / "a.yml"]) == ({"a:b"}, {"Boom"})


def _group(name, *rules):
    return {"name": name, "interval": 15, "rules": list(rules)}


def _rule(name, kind, health="ok", error=""):
    return {"name": name, "type": kind, "health": health, "lastError": error}


def test_rules_rows_pass_when_every_file_rule_is_loaded_without_error():
    groups = [_group("g", _rule("a:b", "recording"), _rule("Boom", "alerting"))]
    rows = verify_rows.rules_rows(groups, {"a:b"}, {"Boom"})
    assert [r.status for r in rows] == ["pass", "pass"]
    assert rows[0].evidence.startswith("1 rules (1 names) in 1 groups")


def test_rules_rows_name_a_missing_alert_and_a_failing_rule():
    groups = [_group("g", _rule("a:b", "recording", "err", "bad expr"), _rule("Boom", "alerting"))]
    recording, alerting = verify_rows.rules_rows(groups, {"a:b"}, {"Boom", "Gone"})
    assert recording.status == "fail" and "a:b: bad expr" in recording.evidence
    assert alerting.status == "fail" and "missing Gone" in alerting.evidence


def _target(job, health="up", error="", **labels):
    return {"labels": {"job": job, **labels}, "health": health, "lastError": error}


def test_a_down_target_fails_its_own_job_row_only():
    targets = [
        _target("marketplace", version="v1"),
        _target("marketplace", "down", "connection refused", version="v2"),
        _target("prometheus"),
    ]
    rows = {r.check: r for r in verify_rows.target_rows(targets, "native")}
    assert rows["Targets up: marketplace"].status == "fail"
    assert "1/2 up" in rows["Targets up: marketplace"].evidence
    assert "v2 down: connection refused" in rows["Targets up: marketplace"].evidence
    assert rows["Targets up: prometheus"].status == "pass"


def test_docker_only_targets_are_skipped_in_native_mode_and_checked_under_docker():
    targets = [_target("grafana", "down"), _target("otel-collector", "down")]
    native = verify_rows.target_rows(targets, "native")
    assert {r.status for r in native} == {"skip"}
    assert "runs only under Docker" in native[0].evidence
    assert {r.status for r in verify_rows.target_rows(targets, "docker")} == {"fail"}


def test_metrics_row_fails_naming_the_version_without_series():
    contract = {"m_total": "counter", "h_seconds": "histogram"}
    present = {"m_total": {"v1", "v2"}, "h_seconds_bucket": {"v1"}}
    row = verify_rows.metrics_row(contract, present, {"v1", "v2"}, {"v1": {"h_seconds"}})
    assert row.status == "fail"
    assert "h_seconds (v2)" in row.evidence


def test_metrics_row_accepts_a_labelled_counter_exposed_without_events():
    contract = {"m_total": "counter", "errs_total": "counter"}
    present = {"m_total": {"v1", "v2"}, "errs_total": {"v2"}}
    row = verify_rows.metrics_row(contract, present, {"v1", "v2"}, {"v1": {"errs", "m"}})
    assert row.status == "pass"
    assert "2/2 metrics have series for v1, v2" in row.evidence
    assert "no events yet: errs_total (v1)" in row.evidence


COMMITTED_RECEIVERS = verify_rows.receiver_names(verify_rows.ALERTMANAGER_CONFIG.read_text())


def test_receivers_row_requires_the_committed_receivers():
    assert "watchdog" in COMMITTED_RECEIVERS and "default" in COMMITTED_RECEIVERS
    good = "receivers:\n" + "".join(
        f"- name: {r}\n  webhook_configs: [{{url: 'http://x'}}]\n" for r in COMMITTED_RECEIVERS
    )
    assert verify_rows.receivers_row(good).status == "pass"
    bad = verify_rows.receivers_row("receivers:\n- name: default\n")
    assert bad.status == "fail" and "watchdog" in bad.evidence


def test_the_expected_receivers_are_read_from_the_alertmanager_file():
    expected = "receivers:\n- name: default\n- name: audit\n"
    row = verify_rows.receivers_row("receivers:\n- name: default\n", expected)
    assert row.status == "fail" and row.evidence == "missing receivers: audit"
    row = verify_rows.receivers_row("receivers:\n- name: audit\n- name: default\n", expected)
    assert row.status == "pass" and "(default, audit)" in row.evidence


def test_dashboard_uids_are_those_of_the_dashboard_files(tmp_path):
    uids = verify_rows.dashboard_uids()
    files = sorted(verify_rows.DASHBOARDS_DIR.glob("*.json"))
    assert uids == [json.loads(f.read_text())["uid"] for f in files] and uids
    # No file, no expectation: nothing is made up in their place.
    assert verify_rows.dashboard_uids(tmp_path) == []
    (tmp_path / "x.json").write_text('{"uid": "mine", "title": "X"}')
    assert verify_rows.dashboard_uids(tmp_path) == ["mine"]


class FakeResponse:
    def __init__(self, status=200, body=None, text=None):
        self.status_code = status
        self._body = body
        self.text = text if text is not None else json.dumps(body)

    def json(self):
        if self._body is None:
            raise ValueError("not json")
        return self._body


def _prom_ok(data):
    return FakeResponse(body={"status": "success", "data": data})


def fake_stack(down=()):
    """A requests.request stand-in answering like a healthy native stack (minus `down`)."""
    records, alerts = verify_rows.rule_names(rulefiles.rule_files())
    contract = verify_rows.contract_metrics(verify_rows.CONTRACTS.read_text(encoding="utf-8"))
    rules = [
        _group(
            "all",
            *[_rule(n, "recording") for n in records],
            *[_rule(n, "alerting") for n in alerts],
        )
    ]
    targets = [
        _target("marketplace", version="v1"),
        _target("marketplace", "down" if "v2" in down else "up", "refused", version="v2"),
        _target("alertmanager"),
    ]
    series = [
        {"metric": {"__name__": verify_rows.series_name(m, k), "version": v}, "value": [0, "1"]}
        for m, k in contract.items()
        for v in ("v1", "v2")
    ]
    config = verify_rows.ALERTMANAGER_CONFIG.read_text()

    def request(method, url, **kwargs):
        if any(url.startswith(f"http://{name}") for name in down):
            raise requests.ConnectionError("refused")
        routes = {
            "/-/ready": lambda: FakeResponse(text="Ready"),
            "/healthz": lambda: FakeResponse(body={"status": "ok"}),
            "/api/v1/rules": lambda: _prom_ok({"groups": rules}),
            "/api/v1/targets": lambda: _prom_ok({"activeTargets": targets}),
            "/api/v1/query": lambda: _prom_ok({"resultType": "vector", "result": series}),
            "/api/v1/targets/metadata": lambda: _prom_ok([]),
            "/api/v2/status": lambda: FakeResponse(body={"config": {"original": config}}),
        }
        path = "/" + url.split("/", 3)[3]
        return routes[path]()

    return request


def test_a_healthy_native_stack_passes_with_docker_items_skipped(monkeypatch):
    monkeypatch.setattr(promapi.requests, "request", fake_stack())
    rows = {r.check: r for r in verify.run_checks(ENDPOINTS, "native", alert=False)}
    assert {c for c, r in rows.items() if r.status == "fail"} == set()
    skipped = {c for c, r in rows.items() if r.status == "skip"}
    assert skipped == {
        "OTLP endpoint reachable",
        "Dashboards provisioned",
        "Logs ingested",
        "Test alert delivered (info)",
    }
    assert rows["Contract metrics have data"].status == "pass"


def test_a_stopped_alertmanager_fails_its_rows_and_not_the_prometheus_ones(monkeypatch):
    monkeypatch.setattr(promapi.requests, "request", fake_stack(down=("alertmanager",)))
    rows = {r.check: r for r in verify.run_checks(ENDPOINTS, "native", alert=False)}
    failed = {c for c, r in rows.items() if r.status == "fail"}
    assert failed == {"Alertmanager ready", "Receivers configured"}
    assert "connection refused" in rows["Alertmanager ready"].evidence


def test_main_exits_non_zero_on_a_failure_and_prints_json(monkeypatch, capsys):
    monkeypatch.setattr(promapi.requests, "request", fake_stack(down=("v2",)))
    monkeypatch.setattr(verify.Endpoints, "from_env", classmethod(lambda cls: ENDPOINTS))
    assert verify.main(["--mode", "native", "--no-alert", "--format", "json"]) == 1
    out = json.loads(capsys.readouterr().out)
    failed = [r["check"] for r in out["rows"] if r["status"] == "fail"]
    assert failed == ["Targets up: marketplace"]
    metrics = next(r for r in out["rows"] if r["check"] == "Contract metrics have data")
    assert metrics["evidence"].endswith("for v1 (v2 not checked: target down)")


def test_otlp_endpoint_is_checked_when_named_even_in_native_mode(monkeypatch):
    calls = []

    def refuse(address, timeout):
        calls.append(address)
        raise ConnectionRefusedError(111, "Connection refused")

    monkeypatch.setattr(verify.socket, "create_connection", refuse)
    ep = Endpoints(
        **{**ENDPOINTS.__dict__, "otlp": "http://collector.example:4317", "otlp_explicit": True}
    )
    row = verify.check_otlp(ep, "native")
    assert calls == [("collector.example", 4317)]
    assert row.status == "fail" and "Connection refused" in row.evidence
