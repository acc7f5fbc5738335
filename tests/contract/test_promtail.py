"""Promtail's pipeline against the log lines the service really writes, and its bounded labels."""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path

import jmespath
import pytest
import stackfiles as sf
from grafanafiles import datasources

pytestmark = pytest.mark.contract

ALLOWED_LABELS = {"job", "service", "version", "level"}
# Promtail's file target adds this to every line it reads (FilenameLabel in
# clients/pkg/promtail/targets/file/filetarget.go), whatever the config says.
IMPLICIT_FILE_LABELS = {"filename"}
# Go's time.RFC3339Nano as a parse layout: fractional seconds optional, zone Z or +hh:mm.
RFC3339NANO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)")


@pytest.fixture(scope="module")
def config():
    return sf.load_yaml("promtail/promtail.yaml")


@pytest.fixture(scope="module")
def job(config):
    (scrape,) = config["scrape_configs"]
    return scrape


def _stages(job, kind):
    return [stage[kind] for stage in job["pipeline_stages"] if kind in stage]


def _expressions(job) -> dict[str, str]:
    (json_stage,) = _stages(job, "json")
    # An empty expression means "the key of the same name".
    return {name: expr or name for name, expr in json_stage["expressions"].items()}


def _stream_labels(job) -> set[str]:
    static = {
        name
        for static_config in job["static_configs"]
        for name in static_config["labels"]
        if not name.startswith("__")
    }
    dynamic = {name for stage in _stages(job, "labels") for name in stage}
    dropped = {name for stage in _stages(job, "labeldrop") for name in stage}
    return (static | dynamic | IMPLICIT_FILE_LABELS) - dropped


def test_server_positions_and_client_are_where_compose_expects(config):
    assert config["server"]["http_listen_port"] == "${PROMTAIL_PORT}"
    assert config["server"]["grpc_listen_port"] == 0
    (client,) = config["clients"]
    assert client["url"] == "http://loki:${LOKI_PORT}/loki/api/v1/push"
    positions = Path(config["positions"]["filename"])
    mounts = {m["target"]: m for m in sf.mounts(sf.services()["promtail"])}
    assert mounts[str(positions.parent)]["type"] == "volume"


def test_promtail_only_pushes_and_never_queries(config):
    text = (sf.REPO / "promtail" / "promtail.yaml").read_text(encoding="utf-8")
    assert "/loki/api/v1/query" not in text
    assert all(c["url"].endswith("/loki/api/v1/push") for c in config["clients"])


def test_stream_labels_are_exactly_the_bounded_set(job):
    assert _stream_labels(job) == ALLOWED_LABELS


def test_no_label_is_built_from_the_query_or_error_text(job):
    expressions = _expressions(job)
    assert _stages(job, "labels"), "no labels stage: the loop below would check nothing"
    for stage in _stages(job, "labels"):
        for name, source in stage.items():
            expression = expressions[source or name]
            assert not re.search(r"query|error|message|trace|span|package", expression), name


def test_trace_id_goes_to_structured_metadata_not_a_label(job):
    (metadata,) = _stages(job, "structured_metadata")
    assert set(metadata) == {"trace_id"}
    assert "trace_id" not in _stream_labels(job)


def test_every_stage_reads_a_field_the_json_stage_extracts(job):
    extracted = set(_expressions(job))
    for kind in ("labels", "structured_metadata"):
        for stage in _stages(job, kind):
            for name, source in stage.items():
                assert (source or name) in extracted, (kind, name)
    (timestamp,) = _stages(job, "timestamp")
    assert timestamp["source"] in extracted
    assert timestamp["format"] == "RFC3339Nano"


def test_json_expressions_are_valid_jmespath_and_each_is_used(job):
    expressions = _expressions(job)
    assert expressions, "the json stage extracts nothing"
    for expression in expressions.values():
        jmespath.compile(expression)  # raises on a syntax error
    used = {
        source or name
        for kind in ("labels", "structured_metadata")
        for stage in _stages(job, kind)
        for name, source in stage.items()
    } | {stage["source"] for stage in _stages(job, "timestamp")}
    assert set(expressions) == used, "a field is extracted that no stage reads, or the reverse"


def test_static_job_label_matches_the_prometheus_job(job):
    prometheus = sf.load_yaml("prometheus/prometheus.yml")
    jobs = {j["job_name"] for j in prometheus["scrape_configs"]}
    (static_config,) = job["static_configs"]
    assert static_config["labels"]["job"] in jobs


# ---------------------------------------------------------------- against real log lines


def test_every_expression_finds_its_field_in_real_service_lines(job, service_log_lines):
    expressions = {name: jmespath.compile(expr) for name, expr in _expressions(job).items()}
    traced = [line for line in service_log_lines if line.get("trace_id")]
    assert traced, "no line the service wrote during a request carries trace_id"
    for line in traced:
        for name, expression in expressions.items():
            value = expression.search(line)
            assert value not in (None, ""), f"{name} ({expression.expression}) not in {line}"


def test_every_line_yields_the_stream_labels_and_a_parseable_timestamp(job, service_log_lines):
    expressions = _expressions(job)
    (timestamp,) = _stages(job, "timestamp")
    label_sources = {
        name: source or name for stage in _stages(job, "labels") for name, source in stage.items()
    }
    assert label_sources and service_log_lines, "nothing to check"
    for line in service_log_lines:
        stamp = jmespath.search(expressions[timestamp["source"]], line)
        assert isinstance(stamp, str) and RFC3339NANO.fullmatch(stamp), stamp
        datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        for label, source in label_sources.items():
            value = jmespath.search(expressions[source], line)
            assert isinstance(value, str) and value, (label, line)


def test_label_values_come_from_small_fixed_sets(job, service_log_lines):
    expressions = _expressions(job)
    seen = {name: set() for name in ("service", "version", "level")}
    for line in service_log_lines:
        for name in seen:
            seen[name].add(jmespath.search(expressions[name], line))
    assert seen["service"] == {"marketplace"}
    assert seen["version"] <= {"v1", "v2"} and seen["version"]
    assert seen["level"] <= {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


def test_the_search_event_fields_the_dashboards_filter_on_are_in_the_lines(service_log_lines):
    # The spec's LogQL: `| json | duration_ms > 200`, `cache_hit = "false"`, `query =~ ...`.
    searches = [line for line in service_log_lines if line.get("message") == "Search completed"]
    assert searches, "no 'Search completed' line"
    for line in searches:
        assert isinstance(line["duration_ms"], int | float)
        assert "query" in line and "cache_hit" in line


# ---------------------------------------------------------------- Grafana's LogQL


def _loki_expressions() -> list[tuple[str, str]]:
    """Every `expr` under a Loki datasource (a target inherits its panel's datasource)."""
    found = []
    for path in sorted((sf.REPO / "grafana" / "dashboards").glob("*.json")):
        stack = [(json.loads(path.read_text(encoding="utf-8")), None)]
        while stack:
            node, inherited = stack.pop()
            if isinstance(node, dict):
                datasource = node.get("datasource")
                uid = datasource.get("uid") if isinstance(datasource, dict) else inherited
                if uid == "loki" and isinstance(node.get("expr"), str):
                    found.append((path.name, node["expr"]))
                stack.extend((child, uid) for child in node.values())
            elif isinstance(node, list):
                stack.extend((child, inherited) for child in node)
    return found


def test_every_query_of_the_logs_dashboard_targets_the_loki_datasource():
    """Its LogQL runs against Loki only in tests/stack (a compose stack); here, that every panel
    and target names the provisioned Loki datasource by uid, so none is sent elsewhere."""
    (loki,) = [d for d in datasources().values() if d["type"] == "loki"]
    dashboard = json.loads((sf.REPO / "grafana/dashboards/marketplace-logs.json").read_text())
    queried = [panel for panel in dashboard["panels"] if panel.get("targets")]
    assert len(queried) >= 4
    for panel in queried:
        assert panel["datasource"] == {"type": "loki", "uid": loki["uid"]}, panel["title"]
        for target in panel["targets"]:
            assert target.get("datasource", panel["datasource"]) == panel["datasource"]
            assert target["expr"].lstrip().startswith(("{", "sum", "topk")), target["expr"]


def test_the_logs_dashboard_has_log_queries_to_check():
    """The parametrized check below runs once per query: with none found it would not run."""
    names = [name for name, _ in _loki_expressions()]
    assert names.count("marketplace-logs.json") >= 4  # the spec's four LogQL queries


SELECTOR = re.compile(r"\{([^{}]*)\}")
MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"\s*')


@pytest.mark.parametrize(
    ("dashboard", "expr"),
    _loki_expressions(),
    ids=[f"{name}#{i}" for i, (name, _) in enumerate(_loki_expressions())],
)
def test_dashboard_log_queries_select_only_labels_promtail_sets(dashboard, expr, job):
    selector = SELECTOR.search(expr)
    assert selector, f"{dashboard}: no stream selector in {expr}"
    matchers = [MATCHER.fullmatch(m) for m in selector.group(1).split(",") if m.strip()]
    assert all(matchers), f"{dashboard}: unparsed selector {selector.group(0)}"
    names = {m.group(1) for m in matchers}
    assert names <= _stream_labels(job), f"{dashboard}: {sorted(names - _stream_labels(job))}"
    (static_config,) = job["static_configs"]
    for m in matchers:
        if m.group(1) == "job" and m.group(2) == "=":
            assert m.group(3) == static_config["labels"]["job"], f"{dashboard}: {expr}"
