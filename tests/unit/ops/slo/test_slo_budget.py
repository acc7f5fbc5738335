"""The SLO review's figures: budget maths, compliance, objectives and windows."""

import math

import pytest

from ops.promapi import parse_duration, promql_duration
from ops.slo import report as slo_report
from tests.unit.ops.slo.fakeprom import NOW, FakePrometheus, vec

pytestmark = pytest.mark.unit


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


def test_an_error_burst_burns_the_errors_budget():
    prom = FakePrometheus(
        {"count_over_time": vec(40), "avg_over_time": vec(1 / 3), "ratio_rate1h": vec(0.25)},
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
            return vec(len(self.samples))
        if "avg_over_time" in expr and ">= 0)[30d:15s]" in expr:
            values = [v for _, v in self.samples if v >= 0]  # NaN >= 0 is false, as in PromQL
            return vec(sum(values) / len(values))
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
        {"objective": vec(0.9, slo="errors"), "window_days": vec(14, slo="errors")}
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
