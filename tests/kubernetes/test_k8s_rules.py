"""The rules and routes stay identical on Kubernetes: the groups inside each generated
PrometheusRule pass the same promtool suites as prometheus/rules/, and the generated Alertmanager
configuration passes amtool with the same routes, receivers and templates as
alertmanager/alertmanager.yml."""

from __future__ import annotations

import shutil
from pathlib import Path

import k8s_render as kr
import k8s_vendor as kv
import pytest
import yaml

from ops.k8s import sources as k8s_sources
from tests.rules import rulefiles as rf

pytestmark = pytest.mark.kubernetes

SUITES = sorted((kr.REPO / "prometheus" / "tests").glob("*.test.yml"))


def _extract_rules(tmp_path: Path) -> Path:
    """prometheus/rules/<stem>.yml rebuilt from the cluster's PrometheusRules, beside a copy of
    prometheus/tests/ (the suites name their rule files `../rules/<stem>.yml`)."""
    rules_dir, tests_dir = tmp_path / "rules", tmp_path / "tests"
    rules_dir.mkdir()
    for rule in kr.of_kind(kr.rendered(), "PrometheusRule"):
        source = Path(rule["metadata"]["annotations"]["marketplace-obs/source"])
        (rules_dir / source.name).write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    shutil.copytree(kr.REPO / "prometheus" / "tests", tests_dir)
    return tmp_path


def test_the_extracted_groups_are_one_file_per_committed_rule_file(tmp_path):
    extracted = sorted(p.name for p in (_extract_rules(tmp_path) / "rules").iterdir())
    assert extracted == [p.name for p in rf.rule_files()]


def test_promtool_accepts_every_extracted_rule_file(tmp_path):
    root = _extract_rules(tmp_path)
    files = sorted(str(p) for p in (root / "rules").glob("*.yml"))
    result = rf.run_tool("promtool", "check", "rules", *files)
    assert result.returncode == 0, result.stdout + result.stderr
    for path in files:
        assert f"Checking {path}" in result.stdout


@pytest.mark.parametrize("suite", SUITES, ids=lambda p: p.name)
def test_the_promtool_suite_passes_against_the_extracted_groups(tmp_path, suite):
    root = _extract_rules(tmp_path)
    result = rf.run_tool("promtool", "test", "rules", str(root / "tests" / suite.name))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_a_changed_extracted_rule_fails_its_suite(tmp_path):
    """The suites really read the extracted files: a threshold moved there is caught."""
    root = _extract_rules(tmp_path)
    target = root / "rules" / "watchdog.yml"
    target.write_text(target.read_text().replace("severity: none", "severity: page"))
    result = rf.run_tool("promtool", "test", "rules", str(root / "tests" / "watchdog.test.yml"))
    assert result.returncode != 0


# --- Alertmanager ---------------------------------------------------------------------------------


def _kps() -> dict:
    return kr.generated_values("kube-prometheus-stack")["alertmanager"]


def _write_alertmanager(tmp_path: Path) -> Path:
    """The generated config with its templates written beside it, where amtool can load them."""
    values = _kps()
    templates = tmp_path / "templates"
    templates.mkdir()
    for name, text in values["templateFiles"].items():
        (templates / name).write_text(text)
    config = dict(values["config"])
    assert config["templates"] == [f"{k8s_sources.ALERTMANAGER_TEMPLATES_DIR}/*.tmpl"]
    config["templates"] = [str(templates / "*.tmpl")]
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_amtool_accepts_the_generated_alertmanager_configuration(tmp_path):
    path = _write_alertmanager(tmp_path)
    result = rf.run_tool("amtool", "check-config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Found:" in result.stdout
    assert f"{len(_kps()['templateFiles'])} templates" in result.stdout


def test_routes_inhibitions_and_templates_are_the_compose_ones():
    compose = rf.alertmanager_config()
    generated = _kps()
    assert generated["config"]["route"] == compose["route"]
    assert generated["config"]["inhibit_rules"] == compose["inhibit_rules"]
    names = [r["name"] for r in generated["config"]["receivers"]]
    assert names == [r["name"] for r in compose["receivers"]]
    templates = sorted((kr.REPO / "alertmanager" / "templates").glob("*.tmpl"))
    assert generated["templateFiles"] == {p.name: p.read_text() for p in templates}


def _file_fields(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key.endswith("_file"):
                found.append(value)
            else:
                _file_fields(value, found)
    elif isinstance(node, list):
        for item in node:
            _file_fields(item, found)
    return found


def test_every_receiver_credential_is_read_from_a_mounted_kubernetes_secret():
    compose_secrets = set(kr.load(kr.REPO / "compose.yaml")["services"]["alertmanager"]["secrets"])
    values = _kps()
    mounted = values["alertmanagerSpec"]["secrets"]
    paths = _file_fields(values["config"], [])
    assert paths, "no *_file field: a credential would be inline"
    for path in paths:
        directory, secret, key = path.rsplit("/", 2)
        # kube-prometheus-stack mounts alertmanagerSpec.secrets at /etc/alertmanager/secrets/<name>/
        assert directory == "/etc/alertmanager/secrets" and secret in mounted, path
        assert key in compose_secrets, path
    assert {p.rsplit("/", 1)[1] for p in paths} == compose_secrets


def test_no_credential_is_written_into_the_generated_configuration():
    text = (kr.DEPLOY / "helm" / "kube-prometheus-stack" / "generated.yaml").read_text()
    for example in sorted((kr.REPO / "alertmanager" / "secrets").glob("*.example")):
        assert example.read_text().strip() not in text, example.name
    assert "/run/secrets/" not in text


def test_helms_merge_with_the_charts_default_configuration_changes_nothing():
    """Helm merges alertmanager.config into the chart's default map by map: a key compose's file
    leaves out (say repeat_interval) would silently take the chart's value."""
    vendored = yaml.safe_load((kv.SCHEMAS / "kube-prometheus-stack.defaults.yaml").read_text())
    default = vendored["verbatim"]["alertmanager.config"]
    ours = _kps()["config"]
    assert kv.merge(default, ours) == ours
    # the check bites: a route without repeat_interval would inherit the chart's 12h
    trimmed = {**ours, "route": {k: v for k, v in ours["route"].items() if k != "repeat_interval"}}
    assert (
        kv.merge(default, trimmed)["route"]["repeat_interval"]
        == default["route"]["repeat_interval"]
    )
