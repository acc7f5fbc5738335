"""Grafana's trace links against what each source really emits, end to end.

Exemplars reach Prometheus from three places, each with its own label for the trace id: the
service (`trace_id`, docs/contracts.md), the Collector's span_metrics connector through the
prometheus exporter (`trace_id`), and Tempo's metrics generator by remote write (`traceID`,
hard-coded in modules/generator/registry/histogram.go). Grafana only links an exemplar whose label
is named in exemplarTraceIdDestinations, so a missing name silently loses the link.
"""

from __future__ import annotations

import re

import pytest
import stackfiles as sf
from grafanafiles import datasources

pytestmark = pytest.mark.contract

# Tempo 2.x span-metrics processor: metric names from the constants in
# modules/generator/processor/spanmetrics/spanmetrics.go, and its intrinsic labels
# (intrinsic_dimensions in the manifest); extra dimensions become labels with `.` replaced by `_`.
TEMPO_SPAN_METRICS = {
    "traces_spanmetrics_calls_total",
    "traces_spanmetrics_latency_bucket",
    "traces_spanmetrics_latency_count",
    "traces_spanmetrics_latency_sum",
    "traces_spanmetrics_size_total",
}
TEMPO_INTRINSIC_LABELS = {"service", "span_name", "span_kind", "status_code"}


def exemplar_labels_sent_to_prometheus() -> dict[str, str]:
    """Exemplar label name -> the source that sends it."""
    sources = {}
    contracts = (sf.REPO / "docs" / "contracts.md").read_text(encoding="utf-8")
    service = re.search(r"Exemplar label: `(\w+)`", contracts)
    if service:
        sources[service.group(1)] = "service"
    collector = sf.load_yaml("otel-collector/config.yaml")
    connectors = collector.get("connectors") or {}
    exporters = collector.get("exporters") or {}
    span_metrics = connectors.get("span_metrics") or {}
    prometheus = exporters.get("prometheus") or {}
    if (span_metrics.get("exemplars") or {}).get("enabled") and prometheus.get(
        "enable_open_metrics"
    ):
        sources["trace_id"] = "collector span_metrics"
    tempo = sf.load_yaml("tempo/tempo.yaml")
    remote_writes = tempo["metrics_generator"]["storage"].get("remote_write") or []
    if any(rw.get("send_exemplars") for rw in remote_writes):
        sources["traceID"] = "tempo metrics generator"
    return sources


def test_every_exemplar_source_has_a_trace_link():
    sources = exemplar_labels_sent_to_prometheus()
    assert {"trace_id", "traceID"} <= set(sources), sources
    destinations = datasources()["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    names = {d["name"] for d in destinations}
    missing = {label: source for label, source in sources.items() if label not in names}
    assert not missing, f"exemplars without a link to Tempo: {missing}"
    assert all(d["datasourceUid"] == "tempo" for d in destinations)


def test_traces_to_metrics_queries_tempos_span_metrics_by_their_labels():
    tempo_config = sf.load_yaml("tempo/tempo.yaml")
    processors = tempo_config["overrides"]["defaults"]["metrics_generator"]["processors"]
    assert "span-metrics" in processors
    dimensions = tempo_config["metrics_generator"]["processor"]["span_metrics"]["dimensions"]
    labels = TEMPO_INTRINSIC_LABELS | {d.replace(".", "_") for d in dimensions}

    traces_to_metrics = datasources()["tempo"]["jsonData"]["tracesToMetrics"]
    for tag in traces_to_metrics["tags"]:
        assert tag.get("value", tag["key"]) in labels, tag
    for query in traces_to_metrics["queries"]:
        names = set(re.findall(r"\btraces_\w+", query["query"]))
        assert names and names <= TEMPO_SPAN_METRICS, query


def test_the_service_map_has_tempos_service_graph_metrics():
    tempo_config = sf.load_yaml("tempo/tempo.yaml")
    processors = tempo_config["overrides"]["defaults"]["metrics_generator"]["processors"]
    assert "service-graphs" in processors
    assert datasources()["tempo"]["jsonData"]["serviceMap"]["datasourceUid"] == "prometheus"
