"""The shape of what `kubectl apply -k deploy/kubernetes` would create, proven offline: Kubernetes
1.34 OpenAPI schemas, the Prometheus Operator v0.93.0 CRD schemas, and the hardening rules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import k8s_render as kr
import kubernetes_validate
import pytest

from ops.stack import topology

pytestmark = pytest.mark.kubernetes

KUBERNETES_VERSION = "1.34"
SCHEMAS = Path(__file__).parent / "schemas"
# The kinds our kustomization holds (no ServiceMonitor, no AlertmanagerConfig: the Alertmanager
# configuration goes through the chart's values); another kind fails here until its CRD is vendored.
CRD_FILES = {"PrometheusRule": "prometheusrules", "PodMonitor": "podmonitors"}


def _ids(resources):
    return [f"{r['kind']}/{r['metadata']['name']}" for r in resources]


# Collected once for the parametrized tests; without kubectl there is nothing to parametrize, and
# the tests that render (first below) skip, or fail under CI=true, through require_binary.
RENDERED = kr.rendered() if shutil.which("kubectl") else []
CORE = [r for r in RENDERED if not r["apiVersion"].startswith("monitoring.coreos.com/")]
CUSTOM = [r for r in RENDERED if r["apiVersion"].startswith("monitoring.coreos.com/")]


def test_the_kustomization_renders_offline_into_every_kind_the_issue_asks_for():
    kinds = {r["kind"] for r in kr.rendered()}
    assert {
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
        "PodMonitor",
        "PrometheusRule",
        "ConfigMap",
    } <= kinds


@pytest.mark.parametrize("resource", CORE, ids=_ids(CORE))
def test_each_core_resource_validates_against_the_kubernetes_openapi_schema(resource):
    # strict: an unknown field is an error, as `kubectl apply --validate=strict` makes it
    assert (
        kubernetes_validate.validate(resource, KUBERNETES_VERSION, strict=True)
        == KUBERNETES_VERSION
    )


def test_the_schema_check_rejects_a_misspelt_field():
    (deployment, *_) = kr.of_kind(kr.rendered(), "Deployment")
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def _validate_custom(resource: dict) -> None:
    # Not jsonschema.validate: that checks the schema itself as Python regexes, and the CRDs hold
    # Go ones (`^(?i)...`) the API server accepts. Fields using them are not set by us.
    jsonschema.Draft202012Validator(_crd_schema(resource)).validate(resource)


def _crd_schema(resource: dict) -> dict:
    vendored = json.loads((SCHEMAS / f"crd-{CRD_FILES[resource['kind']]}.json").read_text())
    assert vendored["kind"] == resource["kind"]
    return vendored["versions"][resource["apiVersion"].split("/")[1]]


@pytest.mark.parametrize("resource", CUSTOM, ids=_ids(CUSTOM))
def test_each_custom_resource_validates_against_the_operator_crd_schema(resource):
    _validate_custom(resource)


def test_the_crd_schema_rejects_a_rule_without_an_expression():
    (rule, *_) = kr.of_kind(kr.rendered(), "PrometheusRule")
    broken = json.loads(json.dumps(rule))
    del broken["spec"]["groups"][0]["rules"][0]["expr"]
    with pytest.raises(jsonschema.ValidationError):
        _validate_custom(broken)


@pytest.mark.parametrize("path", [kr.KUSTOMIZATION, kr.LOADGEN], ids=["main", "loadgen"])
def test_every_image_is_a_pin_from_env_and_never_latest(path):
    pins = set(topology.load_env().values())
    for name, spec in kr.pod_specs(kr.rendered(path)):
        for container in kr.containers(spec):
            image = container["image"]
            assert ":" in image and not image.endswith(":latest"), (name, image)
            assert image in pins, (name, image)


@pytest.mark.parametrize("path", [kr.KUSTOMIZATION, kr.LOADGEN], ids=["main", "loadgen"])
def test_every_container_is_unprivileged_non_root_with_a_read_only_root(path):
    specs = kr.pod_specs(kr.rendered(path))
    assert specs
    for name, spec in specs:
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0, name
        assert spec.get("hostNetwork") is not True and spec.get("hostPID") is not True, name
        for container in kr.containers(spec):
            ctx = container["securityContext"]
            assert ctx.get("privileged") is not True, name
            assert ctx["allowPrivilegeEscalation"] is False, name
            assert ctx["readOnlyRootFilesystem"] is True, name
            assert ctx["capabilities"]["drop"] == ["ALL"] and "add" not in ctx["capabilities"], name


def test_no_secret_carries_data():
    for resource in kr.of_kind(kr.rendered(), "Secret"):
        assert not resource.get("data") and not resource.get("stringData"), resource["metadata"]


def _marketplace_deployments() -> dict[str, dict]:
    return {
        d["spec"]["template"]["metadata"]["labels"]["version"]: d
        for d in kr.of_kind(kr.rendered(), "Deployment")
        if d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/name")
        == "marketplace"
    }


def test_both_variants_probe_healthz_and_readyz_and_set_resources():
    deployments = _marketplace_deployments()
    assert sorted(deployments) == ["v1", "v2"]
    for deployment in deployments.values():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]


def test_the_variants_take_the_compose_environment_but_log_to_stdout():
    compose = kr.load(kr.REPO / "compose.yaml")
    for variant, deployment in _marketplace_deployments().items():
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        expected = {
            **compose["x-marketplace-env"],
            **compose["services"][f"marketplace-{variant}"]["environment"],
        }
        assert set(env) == set(expected) - {"MARKETPLACE_LOG_FILE"}
        assert env["MARKETPLACE_VARIANT"]["value"] == variant
        assert env["MARKETPLACE_PORT"]["value"] == topology.load_env()["MARKETPLACE_PORT"]
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"]["value"].startswith(
            "http://otel-collector.monitoring.svc:"
        )
        # closed unless the operator creates the Secret, as compose's empty default
        assert env["MARKETPLACE_ADMIN_TOKEN"]["valueFrom"]["secretKeyRef"]["optional"] is True


def _targets(resource: dict, kind: str) -> list[dict]:
    ref_kind = resource["spec"]["scaleTargetRef"] if kind == "HorizontalPodAutoscaler" else None
    if ref_kind:
        return [
            d
            for d in kr.of_kind(kr.rendered(), "Deployment")
            if d["metadata"]["name"] == ref_kind["name"]
        ]
    selector = resource["spec"]["selector"]["matchLabels"]
    return [
        d
        for d in kr.of_kind(kr.rendered(), "Deployment")
        if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
    ]


@pytest.mark.parametrize("kind", ["HorizontalPodAutoscaler", "PodDisruptionBudget"])
def test_v2_alone_has_an_autoscaler_and_a_disruption_budget(kind):
    (resource,) = kr.of_kind(kr.rendered(), kind)
    (target,) = _targets(resource, kind)
    assert target == _marketplace_deployments()["v2"]
    if kind == "HorizontalPodAutoscaler":
        assert 2 <= resource["spec"]["minReplicas"] < resource["spec"]["maxReplicas"]
        # the autoscaler owns the count: a fixed one would be reset on every apply
        assert "replicas" not in target["spec"]
    else:
        # a drain keeps one v2 pod serving while the autoscaler keeps at least two
        assert resource["spec"]["minAvailable"] == 1


def test_the_pod_monitor_gives_every_series_job_marketplace_and_the_pods_version_label():
    monitor = kr.named(kr.rendered(), "PodMonitor", "marketplace")
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert "version" in monitor["spec"]["podTargetLabels"]
    for variant, deployment in _marketplace_deployments().items():
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
        assert labels["version"] == variant
        # jobLabel names the pod label whose value becomes `job`: the rules' up{job="marketplace"}
        assert labels[monitor["spec"]["jobLabel"]] == "marketplace"
        ports = [
            p["name"] for p in deployment["spec"]["template"]["spec"]["containers"][0]["ports"]
        ]
        assert [e["port"] for e in monitor["spec"]["podMetricsEndpoints"]] == [
            "http"
        ] and "http" in ports
    interval = kr.load(kr.REPO / "prometheus" / "prometheus.yml")["global"]["scrape_interval"]
    assert monitor["spec"]["podMetricsEndpoints"][0]["interval"] == interval


def test_the_load_generator_is_off_by_default_and_drives_both_variants_when_applied():
    assert not [r for r in kr.rendered() if r["metadata"]["name"] == "loadgen"]
    (loadgen,) = kr.of_kind(kr.rendered(kr.LOADGEN), "Deployment")
    (container,) = loadgen["spec"]["template"]["spec"]["containers"]
    port = topology.load_env()["MARKETPLACE_PORT"]
    targets = [container["args"][i + 1] for i, a in enumerate(container["args"]) if a == "--target"]
    assert targets == [f"http://marketplace-v1:{port}", f"http://marketplace-v2:{port}"]
    services = {
        s["metadata"]["name"]
        for s in kr.of_kind(kr.rendered(), "Service")
        if s["metadata"]["namespace"] == loadgen["metadata"]["namespace"]
    }
    assert {"marketplace-v1", "marketplace-v2"} <= services


def test_the_alert_sink_answers_at_the_address_the_alertmanager_configuration_names():
    sink = kr.named(kr.rendered(), "Service", "alertsink")
    config = (kr.DEPLOY / "helm" / "kube-prometheus-stack" / "generated.yaml").read_text()
    address = f"alertsink.{sink['metadata']['namespace']}.svc:{sink['spec']['ports'][0]['port']}"
    assert f"http://{address}/" in config
