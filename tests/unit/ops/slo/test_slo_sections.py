"""The SLO review's other sections: cache hit rate, slowest searches, alerts that fired."""

import json

import pytest

from ops.promapi import Endpoints
from ops.slo import searches as slo_searches
from ops.slo import sources as slo_sources
from tests.unit.ops.slo.fakeprom import NOW, FakePrometheus, vec

pytestmark = pytest.mark.unit


def test_cache_rows_add_an_overall_line():
    rows = slo_sources.cache_rows(
        {"search": 80, "lookup": 10}, {"search": 20, "lookup": 10}, {"search": 0.8}
    )
    assert [r["cache"] for r in rows] == ["lookup", "search", "all"]
    assert rows[1]["hit_rate"] == pytest.approx(0.8)
    assert rows[2]["hit_rate"] == pytest.approx(90 / 120)


LOG_LINES = [
    json.dumps(
        {
            "timestamp": "2027-01-15T08:00:00Z",
            "message": "Search completed",
            "variant": "v2",
            "query": "rust",
            "duration_ms": 12.5,
        }
    ),
    json.dumps(
        {
            "timestamp": "2027-01-15T08:00:01Z",
            "message": "Search completed",
            "variant": "v2",
            "query": "rust",
            "duration_ms": 40.0,
        }
    ),
    json.dumps(
        {
            "timestamp": "2027-01-15T08:00:02Z",
            "message": "Search completed",
            "variant": "v2",
            "query": "http",
            "duration_ms": 90.0,
        }
    ),
    json.dumps(
        {
            "timestamp": "2027-01-15T08:00:03Z",
            "message": "Search completed",
            "variant": "v1",
            "query": "slowv1",
            "duration_ms": 900.0,
        }
    ),
    json.dumps(
        {
            "timestamp": "2020-01-01T00:00:00Z",
            "message": "Search completed",
            "variant": "v2",
            "query": "ancient",
            "duration_ms": 5000.0,
        }
    ),
    json.dumps(
        {
            "timestamp": "2027-01-15T08:00:04Z",
            "message": "Search failed",
            "variant": "v2",
            "query": "boom",
            "duration_ms": 7000.0,
        }
    ),
    "not json, Search completed",
]


def test_slowest_searches_from_log_lines_of_one_variant_in_the_period():
    since = parse_iso("2027-01-01T00:00:00Z")
    events = slo_searches.search_events(LOG_LINES, "v2", since)
    top = slo_searches.aggregate_searches(events, top=5)
    assert top == [
        {"query": "http", "count": 1, "max_ms": 90.0, "mean_ms": 90.0},
        {"query": "rust", "count": 2, "max_ms": 40.0, "mean_ms": 26.2},
    ]


def parse_iso(text):
    from datetime import datetime

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def test_without_loki_the_log_files_are_the_source(tmp_path, monkeypatch):
    log = tmp_path / "marketplace-v2.log"
    log.write_text("\n".join(LOG_LINES) + "\n")
    monkeypatch.setattr(slo_searches, "loki_ready", lambda url: False)
    ep = Endpoints("http://p", "http://a", "http://s", "http://g", "http://l", "http://o", False)
    section = slo_searches.slow_queries_section(
        ep, FakePrometheus({}), "v2", 60 * 86400, parse_iso("2027-02-01T00:00:00Z"), 1, [str(log)]
    )
    assert section.source.startswith("service log files (Loki not reachable)")
    assert section.rows == [["http", "1", "90.0", "90.0"]]


def test_run_dir_logs_prefer_each_variants_json_file_over_its_stdout(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("marketplace-v2.log", "marketplace-v1.log", "prometheus.log", "loadgen.log"):
        (logs / name).write_text("x\n")
    assert [p.name for p in slo_searches.log_files(None, tmp_path)] == [
        "marketplace-v1.log",
        "marketplace-v2.log",
    ]
    # MARKETPLACE_LOG_FILE=.run/logs/<component>.json.log: read instead of that variant's stdout,
    # while a variant without one still counts through its stdout log.
    (logs / "marketplace-v2.json.log").write_text("x\n")
    (logs / "marketplace-loadgen.json.log").write_text("x\n")  # not a variant
    assert [p.name for p in slo_searches.log_files(None, tmp_path)] == [
        "marketplace-v1.log",
        "marketplace-v2.json.log",
    ]


def test_without_loki_or_logs_the_histogram_gives_quantiles(monkeypatch, tmp_path):
    monkeypatch.setattr(slo_searches, "loki_ready", lambda url: False)
    ep = Endpoints("http://p", "http://a", "http://s", "http://g", "http://l", "http://o", False)
    prom = FakePrometheus({"histogram_quantile(0.95": vec(0.123)})
    section = slo_searches.slow_queries_section(
        ep, prom, "v2", 3600, NOW, 5, [str(tmp_path / "*.log")]
    )
    assert "histogram" in section.source
    assert ["p95", "123.0"] in section.rows


def test_loki_is_preferred_and_queried_with_logql(monkeypatch):
    monkeypatch.setattr(slo_searches, "loki_ready", lambda url: True)
    asked = []

    def fake_get_json(url, params=None, timeout=0):
        asked.append(params["query"])
        value = {"topk": "250", "avg_over_time": "100", "count_over_time": "4"}
        key = next(k for k in value if k in params["query"])
        return {"data": {"result": [{"metric": {"query": "rust"}, "value": [NOW, value[key]]}]}}

    monkeypatch.setattr(slo_searches, "get_json", fake_get_json)
    ep = Endpoints("http://p", "http://a", "http://s", "http://g", "http://loki", "http://o", False)
    section = slo_searches.slow_queries_section(ep, FakePrometheus({}), "v2", 3600, NOW, 3, None)
    assert section.source.startswith("Loki")
    assert section.records == [{"query": "rust", "count": 4, "max_ms": 250.0, "mean_ms": 100.0}]
    assert all('| json | message="Search completed"' in q for q in asked)
    assert "unwrap duration_ms [1h]" in asked[0]
    # mean and count are asked for the top queries only (Loki's series limit)
    assert all("| query=~`rust`" in q for q in asked[1:])


def test_query_matcher_escapes_regex_and_skips_what_a_raw_string_cannot_hold():
    assert slo_searches.query_matcher(["c++", "a b"]) == "| query=~`c\\+\\+|a\\ b`"
    assert slo_searches.query_matcher(["`x`"]) == ""


def test_fired_alerts_are_joined_with_their_first_activation():
    labels = {"alertname": "MarketplaceHighErrorRate", "severity": "critical", "version": "v2"}
    firing = [
        {"metric": {"__name__": "ALERTS", "alertstate": "firing", **labels}, "value": [NOW, "8"]}
    ]
    for_state = [
        {"metric": {"__name__": "ALERTS_FOR_STATE", **labels}, "value": [NOW, "1800000000"]}
    ]
    (record,) = slo_sources.alert_records(firing, for_state, 15)
    assert record["firing_seconds"] == 120
    assert record["first_active"] == "2027-01-15 08:00:00Z"
