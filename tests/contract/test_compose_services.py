"""compose.yaml on paper, per service: Prometheus, Alertmanager, Grafana, the service, loadgen."""

from __future__ import annotations

import glob
import re

import pytest
import stackfiles as sf
import yaml

pytestmark = pytest.mark.contract


def test_prometheus_runs_with_remote_write_exemplars_retention_and_its_config_dir():
    prometheus = sf.services()["prometheus"]
    command = prometheus["command"]
    assert "--web.enable-remote-write-receiver" in command
    assert "--enable-feature=exemplar-storage" in command
    assert any(re.fullmatch(r"--storage\.tsdb\.retention\.time=\d+[dhwy]", c) for c in command)
    # 3.x refuses the 2.x-only flag.
    assert not any(c.startswith("--storage.tsdb.retention=") for c in command)
    mount = {m["target"]: m for m in sf.mounts(prometheus)}["/etc/prometheus"]
    assert mount["source"] == "./prometheus" and mount["read_only"]
    config = sf.load_yaml("prometheus/prometheus.yml")
    for pattern in config["rule_files"]:
        assert not pattern.startswith("/"), "rule files are named relative to prometheus.yml"
        assert glob.glob(str(sf.REPO / "prometheus" / pattern)), f"{pattern} matches no file"


def test_alertmanager_reads_its_config_dir_and_every_secret_file_it_names():
    alertmanager = sf.services()["alertmanager"]
    mount = {m["target"]: m for m in sf.mounts(alertmanager)}["/etc/alertmanager"]
    assert mount["source"] == "./alertmanager" and mount["read_only"]
    config_text = (sf.REPO / "alertmanager" / "alertmanager.yml").read_text(encoding="utf-8")
    config = yaml.safe_load(config_text)
    for pattern in config.get("templates") or []:
        assert not pattern.startswith("/"), "templates are named relative to alertmanager.yml"
        assert glob.glob(str(sf.REPO / "alertmanager" / pattern)), f"{pattern} matches no file"
    attached = {
        (s if isinstance(s, str) else s.get("target") or s["source"])
        for s in alertmanager.get("secrets") or []
    }
    named = set(re.findall(r"_file:\s*['\"]?/run/secrets/([\w.-]+)", config_text))
    assert named, "alertmanager.yml reads no secret file"
    assert named == attached, (
        f"alertmanager.yml names {sorted(named)}, compose gives {sorted(attached)}"
    )
    for secret in named:
        source = (sf.REPO / sf.compose()["secrets"][secret]["file"]).resolve()
        # The stack starts with no account anywhere: by default each secret is the example file.
        assert source.name.endswith(".example") and source.is_file(), source


def test_grafana_admin_password_only_comes_from_a_secret_and_anonymous_is_viewer():
    grafana = sf.services()["grafana"]
    environment = sf.environment(grafana)
    assert "GF_SECURITY_ADMIN_PASSWORD" not in environment
    secret_path = environment["GF_SECURITY_ADMIN_PASSWORD__FILE"]
    assert secret_path.startswith("/run/secrets/")
    assert secret_path.removeprefix("/run/secrets/") in (grafana.get("secrets") or [])
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "true"
    assert environment["GF_AUTH_ANONYMOUS_ORG_ROLE"] == "Viewer"
    assert environment["GF_SERVER_HTTP_PORT"] == sf.env()["GRAFANA_PORT"]


def test_grafana_mounts_provisioning_and_the_dashboards_where_the_provider_reads_them():
    grafana = sf.services()["grafana"]
    mounts = {m["target"]: m for m in sf.mounts(grafana)}
    assert mounts["/etc/grafana/provisioning"]["source"] == "./grafana/provisioning"
    providers = sf.load_yaml("grafana/provisioning/dashboards/dashboards.yaml")["providers"]
    for provider in providers:
        path = provider["options"]["path"]
        host = sf.host_path(grafana, path)
        assert host == (sf.REPO / "grafana" / "dashboards").resolve(), (path, host)


def test_no_secret_value_is_written_into_an_environment():
    suspicious = re.compile(r"PASSWORD|TOKEN|SECRET|API_KEY|ROUTING_KEY|WEBHOOK")
    for name, service in sf.compose_raw()["services"].items():
        for key, value in sf.environment(service).items():
            if suspicious.search(key) and not key.endswith("__FILE"):
                # Only pass-through from the operator's shell, empty by default.
                assert re.fullmatch(r"\$\{" + key + r":-\}", value), f"{name}: {key}={value!r}"


def test_services_reach_the_collector_over_otlp_grpc():
    for variant in ("marketplace-v1", "marketplace-v2"):
        environment = sf.environment(sf.services()[variant])
        port = sf.env()["OTEL_COLLECTOR_OTLP_GRPC_PORT"]
        assert environment["OTEL_EXPORTER_OTLP_ENDPOINT"] == f"http://otel-collector:{port}"
        assert environment["OTEL_EXPORTER_OTLP_PROTOCOL"] == "grpc"
        assert environment["MARKETPLACE_VARIANT"] == variant.rsplit("-", 1)[1]


def test_loadgen_targets_both_variants():
    loadgen = sf.services()["loadgen"]
    argv = [*loadgen["entrypoint"], *loadgen["command"]]
    assert argv[:3] == ["python", "-m", "marketplace.loadgen"]
    targets = [argv[i + 1] for i, a in enumerate(argv) if a == "--target"]
    port = sf.env()["MARKETPLACE_PORT"]
    assert targets == [f"http://marketplace-v1:{port}", f"http://marketplace-v2:{port}"]
    assert float(argv[argv.index("--rate") + 1]) > 0
