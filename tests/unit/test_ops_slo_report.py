"""ops.slo_report: budget maths, the sources of each section, and the three output formats."""

import json
import math
from io import StringIO

import pytest
from rich.console import Console

from ops import slo_render, slo_report, slo_sources
from ops._http import Endpoints, OpsError, parse_duration, promql_duration

pytestmark = pytest.mark.unit

NOW = 1_800_000_000.0


def test_budget_and_burn_rate_follow_the_objective():
    assert slo_report.budget_remaining(0.0, 0.99) == 1.0
    assert slo_report.budget_remaining(0.005, 0.99) == pytest.approx(0.5)
    assert slo_report.budget_remaining(0.02, 0.99) == pytest.approx(-1.0)
    assert slo_report.burn_rate(0.02, 0.99) == pytest.approx(2.0)
    assert slo_report.burn_rate(0.001, 0.999) == pytest.approx(1.0)


def test_cumulative_budget_tracks_the_running_mean():
    series = slo_report.cumulative_budget([(1, 0.0), (2, 0.02), (3, math.nan)], 0.99)
    assert series == [(1, 1.0), (2, pytest.approx(0.0))]


def test_range_step_keeps_a_month_under_the_point_limit():
    assert slo_report.range_step(600, 15) == 15
    assert 30 * 86400 / slo_report.range_step(30 * 86400, 15) <= slo_report.MAX_POINTS


def test_durations_round_trip_through_promql():
    assert parse_duration("30d") == 30 * 86400
    assert parse_duration("1h30m") == 5400
    assert promql_duration(7 * 86400) == "7d"
    assert promql_duration(5400) == "90m"
    assert promql_duration(61.2) == "62s"
    with pytest.raises(ValueError):
        parse_duration("week")


def test_coverage_says_how_much_of_the_window_the_data_covers():
    slo = slo_report.SloResult("errors", "Error rate", 0.99, 30 * 86400, covered_seconds=3 * 86400)
    assert slo.coverage_note == "3d of 30d (10.0%)"
    assert slo.met is None
    slo.covered_seconds = 30 * 86400
    assert slo.coverage_note == "full 30d"


class FakePrometheus:
    """Answers the report's PromQL by substring; records what was asked."""

    def __init__(self, instant: dict[str, list], ranges: dict[str, list] | None = None):
        self.instant = instant
        self.ranges = ranges or {}
        self.asked: list[str] = []

    def query(self, expr, at=None):
        self.asked.append(expr)
        for needle, result in self.instant.items():
            if needle in expr:
                return result
        return []

    def query_range(self, expr, start, end, step):
        self.asked.append(expr)
        for needle, result in self.ranges.items():
            if needle in expr:
                return [
                    {"metric": {}, "values": [[start + i * step, v] for i, v in enumerate(result)]}
                ]
        return []


def _vec(value, **labels):
    return [{"metric": labels, "value": [NOW, str(value)]}]


def test_an_error_burst_burns_the_errors_budget():
    prom = FakePrometheus(
        {"count_over_time": _vec(40), "avg_over_time": _vec(1 / 3), "ratio_rate1h": _vec(0.25)},
        {"ratio_rate5m": ["0", "0.5", "0.5", "NaN"]},
    )
    result = slo_report.evaluate_slo(
        prom, "errors", ("Error rate < 1%", 0.99, 30), "v2", None, 15, NOW
    )
    assert result.covered_seconds == 600
    assert result.compliance == pytest.approx(1 - 1 / 3)
    assert result.budget_remaining < 0
    assert result.burn_rate_1h == pytest.approx(25)
    assert result.met is False
    assert 'slo="errors", version="v2"' in prom.asked[0]


class RawSamplesPrometheus:
    """A recorded ratio_rate5m at production timings: one sample every 15 s for 30 days, with a
    5-minute burst of errors every 86.4 minutes, between the points a 500-point query_range picks.
    Answers the subquery mean and count from every raw sample, and query_range by sampling."""

    def __init__(self, now, interval=15.0, days=30):
        self.interval, self.start = interval, now - days * 86400
        step = days * 86400 / slo_report.MAX_POINTS
        self.samples = []
        for i in range(int(days * 86400 / interval)):
            ts = self.start + (i + 1) * interval
            offset = (ts - self.start) % step
            value = 0.5 if 600 <= offset < 900 else (math.nan if i % 7 == 0 else 0.0)
            self.samples.append((ts, value))
        self.asked = []

    def at(self, ts):
        i = int((ts - self.start) / self.interval) - 1
        return self.samples[max(0, min(i, len(self.samples) - 1))][1]

    def query(self, expr, at=None):
        self.asked.append(expr)
        if "count_over_time" in expr:
            return _vec(len(self.samples))
        if "avg_over_time" in expr and ">= 0)[30d:15s]" in expr:
            values = [v for _, v in self.samples if v >= 0]  # NaN >= 0 is false, as in PromQL
            return _vec(sum(values) / len(values))
        return []

    def query_range(self, expr, start, end, step):
        n = int((end - start) / step) + 1
        points = [[start + i * step, str(self.at(start + i * step))] for i in range(n)]
        return [{"metric": {}, "values": points}]


def test_compliance_counts_every_recorded_sample_not_a_sparse_range():
    prom = RawSamplesPrometheus(NOW)
    result = slo_report.evaluate_slo(prom, "errors", ("E", 0.99, 30), "v2", None, 15, NOW)
    values = [v for _, v in prom.samples if v >= 0]
    true_mean = sum(values) / len(values)
    assert true_mean > 0.02  # the bursts alone spend the 1% budget twice over
    assert result.compliance == pytest.approx(1 - true_mean)
    assert result.met is False
    assert result.budget_remaining == pytest.approx(1 - true_mean / 0.01)
    # The chart still comes from query_range, whose sparse points miss every burst.
    assert result.budget_series and all(b == 1.0 for _, b in result.budget_series)


def test_an_slo_without_data_reports_no_data():
    prom = FakePrometheus({})
    result = slo_report.evaluate_slo(
        prom, "availability", ("A", 0.999, 30), "v2", 7 * 86400, 15, NOW
    )
    assert result.window_seconds == 7 * 86400
    assert result.compliance is None and result.met is None


def test_live_objectives_and_windows_override_the_rule_file():
    prom = FakePrometheus(
        {"objective": _vec(0.9, slo="errors"), "window_days": _vec(14, slo="errors")}
    )
    defs = slo_report.slo_definitions(prom)
    assert defs["errors"] == ("Error rate < 10%", 0.9, 14)
    assert defs["availability"] == slo_report.rule_file_definitions()["availability"]


RULES = """
groups:
- name: objectives
  rules:
  - record: marketplace:slo:objective
    expr: vector(0.975)
    labels: {slo: errors}
  - record: marketplace:slo:window_days
    expr: vector(14)
    labels: {slo: errors}
  - record: marketplace:slo:objective
    expr: vector(0.9)
    labels: {slo: cache_hit}
  - record: marketplace:slo:sli_error:ratio_rate5m
    expr: vector(1)
    labels: {slo: errors}
"""


def test_without_live_series_the_objectives_come_from_the_recording_rules(tmp_path):
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES)
    # cache_hit has no window_days rule: no definition is made up for it.
    expected = {"errors": ("Error rate < 2.5%", 0.975, 14)}
    assert slo_report.rule_file_definitions(rules) == expected
    assert slo_report.slo_definitions(FakePrometheus({}), rules) == expected


def test_the_committed_rules_define_the_five_slos_with_titles_from_their_objectives():
    defs = slo_report.rule_file_definitions()
    assert set(defs) == {"search_latency", "lookup_latency", "cache_hit", "errors", "availability"}
    for slo, (_, objective, days) in defs.items():
        assert 0 < objective < 1 and days > 0, slo
    assert defs["errors"][0] == f"Error rate < {round(100 * (1 - defs['errors'][1]), 6):g}%"
    assert defs["availability"][0] == f"Availability > {100 * defs['availability'][1]:g}%"


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
    events = slo_sources.search_events(LOG_LINES, "v2", since)
    top = slo_sources.aggregate_searches(events, top=5)
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
    monkeypatch.setattr(slo_sources, "loki_ready", lambda url: False)
    ep = Endpoints("http://p", "http://a", "http://s", "http://g", "http://l", "http://o", False)
    section = slo_sources.slow_queries_section(
        ep, FakePrometheus({}), "v2", 60 * 86400, parse_iso("2027-02-01T00:00:00Z"), 1, [str(log)]
    )
    assert section.source.startswith("service log files (Loki not reachable)")
    assert section.rows == [["http", "1", "90.0", "90.0"]]


def test_run_dir_logs_prefer_each_variants_json_file_over_its_stdout(tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    for name in ("marketplace-v2.log", "marketplace-v1.log", "prometheus.log", "loadgen.log"):
        (logs / name).write_text("x\n")
    assert [p.name for p in slo_sources.log_files(None, tmp_path)] == [
        "marketplace-v1.log",
        "marketplace-v2.log",
    ]
    # MARKETPLACE_LOG_FILE=.run/logs/<component>.json.log: read instead of that variant's stdout,
    # while a variant without one still counts through its stdout log.
    (logs / "marketplace-v2.json.log").write_text("x\n")
    (logs / "marketplace-loadgen.json.log").write_text("x\n")  # not a variant
    assert [p.name for p in slo_sources.log_files(None, tmp_path)] == [
        "marketplace-v1.log",
        "marketplace-v2.json.log",
    ]


def test_without_loki_or_logs_the_histogram_gives_quantiles(monkeypatch, tmp_path):
    monkeypatch.setattr(slo_sources, "loki_ready", lambda url: False)
    ep = Endpoints("http://p", "http://a", "http://s", "http://g", "http://l", "http://o", False)
    prom = FakePrometheus({"histogram_quantile(0.95": _vec(0.123)})
    section = slo_sources.slow_queries_section(
        ep, prom, "v2", 3600, NOW, 5, [str(tmp_path / "*.log")]
    )
    assert "histogram" in section.source
    assert ["p95", "123.0"] in section.rows


def test_loki_is_preferred_and_queried_with_logql(monkeypatch):
    monkeypatch.setattr(slo_sources, "loki_ready", lambda url: True)
    asked = []

    def fake_get_json(url, params=None, timeout=0):
        asked.append(params["query"])
        value = {"topk": "250", "avg_over_time": "100", "count_over_time": "4"}
        key = next(k for k in value if k in params["query"])
        return {"data": {"result": [{"metric": {"query": "rust"}, "value": [NOW, value[key]]}]}}

    monkeypatch.setattr(slo_sources, "get_json", fake_get_json)
    ep = Endpoints("http://p", "http://a", "http://s", "http://g", "http://loki", "http://o", False)
    section = slo_sources.slow_queries_section(ep, FakePrometheus({}), "v2", 3600, NOW, 3, None)
    assert section.source.startswith("Loki")
    assert section.records == [{"query": "rust", "count": 4, "max_ms": 250.0, "mean_ms": 100.0}]
    assert all('| json | message="Search completed"' in q for q in asked)
    assert "unwrap duration_ms [1h]" in asked[0]
    # mean and count are asked for the top queries only (Loki's series limit)
    assert all("| query=~`rust`" in q for q in asked[1:])


def test_query_matcher_escapes_regex_and_skips_what_a_raw_string_cannot_hold():
    assert slo_sources.query_matcher(["c++", "a b"]) == "| query=~`c\\+\\+|a\\ b`"
    assert slo_sources.query_matcher(["`x`"]) == ""


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


def _report():
    slos = [
        slo_report.SloResult(
            "errors",
            "Error rate < 1%",
            0.99,
            600,
            600,
            0.5,
            -49.0,
            50.0,
            [(NOW - 60, 1.0), (NOW, -49.0)],
        ),
        slo_report.SloResult("availability", "Availability > 99.9%", 0.999, 30 * 86400),
    ]
    section = slo_sources.Section(
        "Alerts that fired", ["Alert"], [["X"]], [{"alertname": "X"}], "Prometheus"
    )
    empty = slo_sources.Section(
        "Slowest searches", ["Query"], note="no completed searches in the period"
    )
    return slo_report.Report(NOW, "v2", "10m", slos, empty, empty, section)


def test_markdown_output_is_a_pipe_table_per_section():
    out = StringIO()
    slo_render.render_rich(
        _report(), markdown=True, console=Console(file=out, width=400, no_color=True)
    )
    text = out.getvalue()
    assert text.startswith("# SLO report for marketplace v2")
    assert "## Service level objectives" in text
    assert "| SLO " in text and "| Error rate < 1% " in text
    assert "✗ missed" in text and "no data" in text
    assert "50.00x" in text and "-4900.0%" in text


def test_json_output_is_strict_json():
    body = json.loads(slo_render.render_json(_report()))
    errors, availability = body["slos"]
    assert errors["met"] is False and errors["burn_rate_1h"] == 50.0
    assert availability["compliance"] is None
    assert body["alerts_fired"]["items"] == [{"alertname": "X"}]


def test_png_chart_is_written(tmp_path):
    target = tmp_path / "budget.png"
    slo_render.render_png(_report(), str(target))
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_unreachable_prometheus_exits_2(monkeypatch, capsys):
    def boom(*args, **kwargs):
        raise OpsError("http://p: connection refused or unreachable")

    monkeypatch.setattr(slo_report, "build_report", boom)
    assert slo_report.main(["--format", "json"]) == 2
