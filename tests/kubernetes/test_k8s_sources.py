"""The generator's translations: image references, compose hosts to cluster Services, `${VAR}`,
and the measurement's counting of series and spans."""

from __future__ import annotations

import json

import pytest

from ops.k8s import measure, workloads
from ops.k8s.sources import Sources, image_parts, rewrite_hosts, rewrite_tree

pytestmark = pytest.mark.kubernetes


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("grafana/loki:3.7.6", ("docker.io", "grafana/loki", "3.7.6")),
        ("quay.io/prometheus/prometheus:v3.14.0", ("quay.io", "prometheus/prometheus", "v3.14.0")),
        ("localhost:5000/marketplace:0.1.0", ("localhost:5000", "marketplace", "0.1.0")),
    ],
)
def test_an_image_reference_splits_into_the_charts_registry_repository_and_tag(reference, expected):
    parts = image_parts(reference)
    assert (parts["registry"], parts["repository"], parts["tag"]) == expected


@pytest.mark.parametrize("reference", ["grafana/loki", "localhost:5000/marketplace"])
def test_an_image_without_a_tag_is_refused(reference):
    with pytest.raises(ValueError, match="without a tag"):
        image_parts(reference)


def test_compose_hosts_become_cluster_services_and_tempos_two_ports_two_services():
    sources = Sources()
    env = sources.env
    assert rewrite_hosts("http://prometheus:${PROMETHEUS_PORT}/api/v1/write", sources) == (
        f"http://prometheus-operated.monitoring.svc:{env['PROMETHEUS_PORT']}/api/v1/write"
    )
    assert rewrite_hosts("tempo:${env:TEMPO_OTLP_GRPC_PORT}", sources) == (
        f"tempo-distributor.monitoring.svc:{env['TEMPO_OTLP_GRPC_PORT']}"
    )
    assert rewrite_hosts("http://tempo:${TEMPO_PORT}", sources) == (
        f"http://tempo-query-frontend.monitoring.svc:{env['TEMPO_PORT']}"
    )
    # the Loki gateway listens on 80: no port in the URL
    assert rewrite_hosts("http://loki:${LOKI_PORT}/loki/api/v1/push", sources) == (
        "http://loki-gateway.monitoring.svc/loki/api/v1/push"
    )


def test_grafanas_escaped_dollars_and_unknown_hosts_are_left_alone():
    sources = Sources()
    assert rewrite_hosts("$${__value.raw} and $$__tags", sources) == "$${__value.raw} and $$__tags"
    assert rewrite_hosts("http://example.org:8080/x", sources) == "http://example.org:8080/x"
    with pytest.raises(KeyError):
        rewrite_hosts("${NOT_IN_DOT_ENV}", sources)


def test_a_value_that_was_only_a_port_variable_becomes_a_number():
    tree = rewrite_tree(
        {"port": "${env:OTEL_COLLECTOR_METRICS_PORT}", "s": "x:${ALERTSINK_PORT}"}, Sources()
    )
    assert tree["port"] == int(Sources().env["OTEL_COLLECTOR_METRICS_PORT"])
    assert tree["s"] == f"x:{Sources().env['ALERTSINK_PORT']}"


@pytest.mark.parametrize(
    ("compose", "kubernetes"), [("512m", "512Mi"), ("1g", "1Gi"), ("64k", "64Ki")]
)
def test_compose_memory_limits_become_binary_quantities(compose, kubernetes):
    assert (
        workloads._memory({"deploy": {"resources": {"limits": {"memory": compose}}}}) == kubernetes
    )


def test_series_are_the_sample_lines_of_an_exposition():
    text = (
        "# HELP a x\n# TYPE a counter\na_total 1\na_created 2\n\n"
        'b{c="d"} 3 # {trace_id="e"} 1\n# EOF\n'
    )
    assert measure.count_series(text) == 3


def test_spans_and_traces_are_counted_from_console_exporter_output():
    spans = [
        {"name": n, "context": {"trace_id": t}} for n, t in [("a", "1"), ("b", "1"), ("c", "2")]
    ]
    text = "\n".join(json.dumps(s, indent=4) for s in spans) + "\n"
    assert measure.count_spans(text) == (3, 2)
