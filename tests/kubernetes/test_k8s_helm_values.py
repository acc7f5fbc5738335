"""Every key our Helm values set exists in the pinned chart (its values.yaml, a key its values.yaml
documents in a comment, or its values.schema.json), and the derived half says what compose says."""

from __future__ import annotations

import json

import jsonschema
import k8s_render as kr
import k8s_vendor as kv
import pytest
import yaml

from ops.k8s import sources as k8s_sources
from ops.stack import topology

pytestmark = pytest.mark.kubernetes

CHARTS = [entry["chart"] for entry in kv.pinned_charts()]


def _vendored(chart: str) -> dict:
    return yaml.safe_load((kv.SCHEMAS / f"{chart}.defaults.yaml").read_text())


def _schema(chart: str) -> dict | None:
    path = kv.SCHEMAS / f"{chart}.values.schema.json"
    return json.loads(path.read_text()) if path.exists() else None


def _validate(values: dict, chart: str) -> None:
    # Helm checks values.schema.json as draft-07 (the collector's names no draft of its own).
    jsonschema.Draft7Validator(_schema(chart)).validate(values)


def test_the_pinned_charts_are_the_five_engines_at_the_vendored_versions():
    pins = {e["chart"]: e["version"] for e in kv.pinned_charts()}
    assert set(pins) == {"kube-prometheus-stack", "loki", "tempo-distributed",
                         "opentelemetry-collector", "promtail"}  # fmt: skip
    for chart, version in pins.items():
        assert _vendored(chart)["version"] == version, chart


@pytest.mark.parametrize("chart", CHARTS)
def test_every_key_our_values_set_exists_in_the_chart(chart):
    vendored = _vendored(chart)
    assert kv.unknown_keys(kv.our_values(chart), vendored["defaults"], chart, _schema(chart)) == []
    for path in kv.COMMENTED.get(chart, {}):
        # documented by the chart, in a comment of its values.yaml, at this version
        assert path in vendored["documented_in_comments"], path


def test_the_key_check_names_a_key_the_chart_does_not_have():
    chart = "kube-prometheus-stack"
    ours = {"prometheus": {"prometheusSpec": {"retention": "1d", "retentionn": "1d"}}}
    assert kv.unknown_keys(ours, _vendored(chart)["defaults"], chart) == [
        "prometheus.prometheusSpec.retentionn"
    ]


@pytest.mark.parametrize("chart", ["loki", "opentelemetry-collector"])
def test_the_merged_values_satisfy_the_charts_values_schema(chart):
    defaults_file = kv.SCHEMAS / f"{chart}.values.yaml"
    if defaults_file.exists():
        defaults = yaml.safe_load(defaults_file.read_text())
    else:
        defaults = _vendored(chart)["defaults"]
    merged = kv.merge(defaults, kv.our_values(chart))
    _validate(merged, chart)


def test_the_collector_schema_rejects_a_port_without_its_fields():
    chart = "opentelemetry-collector"
    defaults = yaml.safe_load((kv.SCHEMAS / f"{chart}.values.yaml").read_text())
    broken = kv.merge(defaults, {"ports": {"extra": {"containerPort": 1}}})
    with pytest.raises(jsonschema.ValidationError):
        _validate(broken, chart)


IMAGES = {
    ("kube-prometheus-stack", "prometheus.prometheusSpec.image"): "PROMETHEUS_IMAGE",
    ("kube-prometheus-stack", "alertmanager.alertmanagerSpec.image"): "ALERTMANAGER_IMAGE",
    ("loki", "loki.image"): "LOKI_IMAGE",
    ("tempo-distributed", "tempo.image"): "TEMPO_IMAGE",
    ("opentelemetry-collector", "image"): "OTEL_COLLECTOR_IMAGE",
    ("promtail", "image"): "PROMTAIL_IMAGE",
}


@pytest.mark.parametrize(("where", "key"), IMAGES.items(), ids=lambda v: str(v))
def test_each_engine_runs_the_image_env_pins(where, key):
    chart, path = where
    node = kr.generated_values(chart)
    for part in path.split("."):
        node = node[part]
    reference = topology.load_env()[key]
    expected = k8s_sources.image_parts(reference)
    if "registry" not in node:  # the collector chart names the registry in the repository
        expected.pop("registry")
    assert node == expected
    assert node["tag"] != "latest"


def test_the_collector_runs_the_compose_pipelines_alone():
    compose = kr.load(kr.REPO / "otel-collector" / "config.yaml")
    generated = kr.generated_values("opentelemetry-collector")["alternateConfig"]
    assert generated["service"]["pipelines"] == compose["service"]["pipelines"]
    for section in ("receivers", "processors", "connectors", "exporters", "extensions"):
        assert set(generated[section]) == set(compose[section]), section
    tempo = generated["exporters"]["otlp_grpc/tempo"]["endpoint"]
    assert tempo == k8s_sources.Sources().host("tempo-otlp")
    values = kr.load(kr.DEPLOY / "helm" / "opentelemetry-collector" / "values.yaml")
    assert values["mode"] == "deployment"


def test_promtail_runs_the_compose_stages_on_the_marketplace_pods():
    compose = kr.load(kr.REPO / "promtail" / "promtail.yaml")
    (job,) = [j for j in compose["scrape_configs"] if j["job_name"] == "marketplace"]
    stages = kr.generated_values("promtail")["config"]["snippets"]["pipelineStages"]
    assert stages[0] == {"cri": {}}
    assert stages[1]["match"]["stages"] == job["pipeline_stages"]
    assert stages[1]["match"]["selector"] == '{job="marketplace"}'
    # ...and those pods' job is "marketplace", as the selector and the dashboards expect
    (relabel,) = kr.load(kr.DEPLOY / "helm" / "promtail" / "values.yaml")["config"]["snippets"][
        "extraRelabelConfigs"
    ]
    assert relabel["target_label"] == "job" and relabel["replacement"] == "marketplace"
    pod_labels = kr.named(kr.rendered(), "Deployment", "marketplace-v2")["spec"]["template"]
    assert pod_labels["metadata"]["labels"]["app.kubernetes.io/name"] == relabel["regex"]


def test_tempo_generates_the_compose_metrics_and_remote_writes_them_to_prometheus():
    compose = kr.load(kr.REPO / "tempo" / "tempo.yaml")["metrics_generator"]
    generated = kr.generated_values("tempo-distributed")
    config = generated["metricsGenerator"]["config"]
    assert config["processor"] == compose["processor"]
    (write,) = config["storage"]["remote_write"]
    assert write["url"] == f"{k8s_sources.Sources().url('prometheus')}/api/v1/write"
    values = kr.load(kr.DEPLOY / "helm" / "tempo-distributed" / "values.yaml")
    assert values["metricsGenerator"]["enabled"] is True
    kps = kr.load(kr.DEPLOY / "helm" / "kube-prometheus-stack" / "values.yaml")
    assert kps["prometheus"]["prometheusSpec"]["enableRemoteWriteReceiver"] is True


def test_remote_write_to_long_term_storage_is_written_out_and_off_by_default():
    folder = kr.DEPLOY / "helm" / "kube-prometheus-stack"
    assert kr.load(folder / "values.yaml")["prometheus"]["prometheusSpec"]["remoteWrite"] == []
    extra = kr.load(folder / "remote-write.yaml")["prometheus"]["prometheusSpec"]
    assert extra["remoteWrite"][0]["url"].startswith("http://")
    assert extra["replicas"] == 2 and extra["replicaExternalLabelName"]
