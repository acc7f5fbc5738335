"""Tempo 2.10.x config on paper: OTLP in, local storage, metrics generator into Prometheus."""

from __future__ import annotations

import pytest
import stackfiles as sf

pytestmark = pytest.mark.contract


@pytest.fixture(scope="module")
def config():
    return sf.load_yaml("tempo/tempo.yaml")


def test_otlp_grpc_receiver_listens_on_all_interfaces_on_the_dotenv_port(config):
    otlp = config["distributor"]["receivers"]["otlp"]["protocols"]
    assert otlp["grpc"]["endpoint"] == "0.0.0.0:${TEMPO_OTLP_GRPC_PORT}"
    assert config["server"]["http_listen_port"] == "${TEMPO_PORT}"


def test_traces_are_stored_on_the_local_volume(config):
    trace = config["storage"]["trace"]
    assert trace["backend"] == "local"
    assert trace["wal"]["path"].startswith("/var/tempo/")
    assert trace["local"]["path"].startswith("/var/tempo/")
    assert config["compactor"]["compaction"]["block_retention"]


def test_metrics_generator_remote_writes_to_prometheus_with_exemplars(config):
    generator = config["metrics_generator"]
    (remote,) = generator["storage"]["remote_write"]
    assert remote["url"] == "http://prometheus:${PROMETHEUS_PORT}/api/v1/write"
    assert remote["send_exemplars"] is True
    assert {"service_graphs", "span_metrics"} <= set(generator["processor"])


def test_generator_processors_are_enabled_per_tenant_in_the_2x_layout(config):
    processors = config["overrides"]["defaults"]["metrics_generator"]["processors"]
    assert {"service-graphs", "span-metrics"} <= set(processors)
    # Flat legacy overrides are refused by 3.x and deprecated in 2.x.
    assert "metrics_generator_processors" not in config["overrides"]
    if "local-blocks" in processors:
        assert config["metrics_generator"]["traces_storage"]["path"]


def test_prometheus_accepts_what_tempo_sends():
    command = sf.services()["prometheus"]["command"]
    assert "--web.enable-remote-write-receiver" in command
    assert "--enable-feature=exemplar-storage" in command


def test_tempo_is_pinned_to_2_10_because_latest_is_3():
    image = sf.env()["TEMPO_IMAGE"]
    assert image.startswith("grafana/tempo:2.10."), image
