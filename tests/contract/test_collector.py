"""The OpenTelemetry Collector config on paper: pipelines, component names, endpoints."""

from __future__ import annotations

import pytest
import stackfiles as sf

pytestmark = pytest.mark.contract

# Old names that still load on 0.159 but log a deprecation warning, and names that are gone.
# (The OTLP *receiver* keeps the name `otlp`; only the exporters were renamed.)
DEPRECATED_TYPES = {
    "exporters": {
        "otlp": "otlp_grpc",
        "otlphttp": "otlp_http",
        "prometheusremotewrite": "prometheus_remote_write",
        "logging": "debug",
    },
    "connectors": {"spanmetrics": "span_metrics"},
    "processors": {"spanmetrics": "the span_metrics connector"},
}


@pytest.fixture(scope="module")
def config():
    return sf.load_yaml("otel-collector/config.yaml")


def _type(component_id: str) -> str:
    return component_id.split("/", 1)[0]


def test_pipelines_name_only_defined_components(config):
    pipelines = config["service"]["pipelines"]
    connectors = set(config.get("connectors") or {})
    for name, pipeline in pipelines.items():
        for receiver in pipeline["receivers"]:
            assert receiver in set(config["receivers"]) | connectors, (name, receiver)
        for processor in pipeline.get("processors", []):
            assert processor in config["processors"], (name, processor)
        for exporter in pipeline["exporters"]:
            assert exporter in set(config["exporters"]) | connectors, (name, exporter)
    for extension in config["service"].get("extensions", []):
        assert extension in config["extensions"], extension


def test_every_defined_component_is_used(config):
    pipelines = config["service"]["pipelines"].values()
    used_receivers = {r for p in pipelines for r in p["receivers"]}
    used_processors = {x for p in pipelines for x in p.get("processors", [])}
    used_exporters = {e for p in pipelines for e in p["exporters"]}
    assert set(config["receivers"]) <= used_receivers
    assert set(config["processors"]) <= used_processors
    assert set(config["exporters"]) <= used_exporters
    assert set(config.get("extensions") or {}) <= set(config["service"].get("extensions", []))
    for connector in config.get("connectors") or {}:
        # A connector joins two pipelines: it must be exported to and received from.
        assert connector in used_exporters and connector in used_receivers, connector


def test_pipeline_signal_types_fit_their_components(config):
    for name in config["service"]["pipelines"]:
        assert _type(name) in ("traces", "metrics", "logs"), name


def test_memory_limiter_first_and_batch_last_in_every_pipeline(config):
    for name, pipeline in config["service"]["pipelines"].items():
        processors = [_type(p) for p in pipeline.get("processors", [])]
        assert processors[0] == "memory_limiter", name
        assert processors[-1] == "batch", name
    limiter = config["processors"]["memory_limiter"]
    assert limiter["check_interval"] and ("limit_mib" in limiter or "limit_percentage" in limiter)


def test_current_component_names_only(config):
    for section, old_names in DEPRECATED_TYPES.items():
        for component_id in config.get(section) or {}:
            kind = _type(component_id)
            assert kind not in old_names, f"{section}.{component_id}: use {old_names[kind]}"


def test_otlp_receivers_listen_on_all_interfaces_on_the_dotenv_ports(config):
    protocols = config["receivers"]["otlp"]["protocols"]
    assert protocols["grpc"]["endpoint"] == "0.0.0.0:${env:OTEL_COLLECTOR_OTLP_GRPC_PORT}"
    assert protocols["http"]["endpoint"] == "0.0.0.0:${env:OTEL_COLLECTOR_OTLP_HTTP_PORT}"


def test_resource_processor_adds_deployment_environment(config):
    attributes = config["processors"]["resource"]["attributes"]
    entry = next(a for a in attributes if a["key"] == "deployment.environment")
    assert entry["action"] in ("insert", "upsert")
    assert entry["value"]
    traces = config["service"]["pipelines"]["traces"]
    assert "resource" in traces["processors"]


def test_traces_go_to_tempo_over_plain_grpc(config):
    traces = config["service"]["pipelines"]["traces"]
    tempo = [e for e in traces["exporters"] if _type(e) == "otlp_grpc"]
    assert len(tempo) == 1
    exporter = config["exporters"][tempo[0]]
    assert exporter["endpoint"] == "tempo:${env:TEMPO_OTLP_GRPC_PORT}"
    # TLS is on by default; Tempo's receiver speaks plain gRPC inside the network.
    assert exporter["tls"]["insecure"] is True


def test_span_metrics_reach_prometheus_with_exemplars(config):
    assert "span_metrics" in config["connectors"]
    assert config["connectors"]["span_metrics"]["exemplars"]["enabled"] is True
    assert config["connectors"]["span_metrics"]["histogram"].get("unit", "ms") == "s"
    metrics = [p for n, p in config["service"]["pipelines"].items() if _type(n) == "metrics"]
    feeding = [p for p in metrics if "span_metrics" in p["receivers"]]
    assert feeding and any("prometheus" in p["exporters"] for p in feeding)
    prometheus = config["exporters"]["prometheus"]
    assert prometheus["endpoint"] == "0.0.0.0:${env:OTEL_COLLECTOR_PROMETHEUS_PORT}"
    # Exemplars are only exposed in the OpenMetrics format.
    assert prometheus["enable_open_metrics"] is True


def test_health_check_and_own_telemetry_listen_on_all_interfaces(config):
    assert config["extensions"]["health_check"]["endpoint"] == (
        "0.0.0.0:${env:OTEL_COLLECTOR_HEALTH_PORT}"
    )
    readers = config["service"]["telemetry"]["metrics"]["readers"]
    exporter = readers[0]["pull"]["exporter"]["prometheus"]
    assert exporter["host"] == "0.0.0.0"
    assert exporter["port"] == "${env:OTEL_COLLECTOR_METRICS_PORT}"
    assert "address" not in config["service"]["telemetry"]["metrics"]  # removed key


def test_prometheus_scrapes_the_collector_telemetry_and_span_metrics():
    prometheus = sf.load_yaml("prometheus/prometheus.yml")
    targets = {
        target
        for job in prometheus["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    }
    for key in ("OTEL_COLLECTOR_METRICS_PORT", "OTEL_COLLECTOR_PROMETHEUS_PORT"):
        assert f"otel-collector:{sf.env()[key]}" in targets, key


def test_services_export_to_the_collector_port_the_receiver_listens_on(config):
    environment = sf.environment(sf.services()["marketplace-v2"])
    endpoint = environment["OTEL_EXPORTER_OTLP_ENDPOINT"]
    protocol = environment["OTEL_EXPORTER_OTLP_PROTOCOL"]
    key = {
        "grpc": "OTEL_COLLECTOR_OTLP_GRPC_PORT",
        "http/protobuf": "OTEL_COLLECTOR_OTLP_HTTP_PORT",
    }
    assert endpoint.endswith(":" + sf.env()[key[protocol]])
