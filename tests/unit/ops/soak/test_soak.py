"""The soak's verdict, tables, duration parsing and /proc and /metrics readings (no network)."""

import os

import pytest

from ops.soak import probe, report

pytestmark = pytest.mark.unit

START = {"rss_bytes": 100 * 2**20, "open_fds": 40, "threads": 14, "series": 280}


def phase(fault: str, errors: float) -> report.Phase:
    return report.Phase(fault, 30.0, 9000.0, errors, fault in ("error_rate",))


def test_durations_are_read_in_seconds_minutes_or_hours():
    assert report.parse_duration("90") == 90
    assert report.parse_duration("90s") == 90
    assert report.parse_duration("10m") == 600
    assert report.parse_duration("1h") == 3600
    with pytest.raises(ValueError):
        report.parse_duration("0m")
    with pytest.raises(ValueError):
        report.parse_duration("ten")


def test_growth_just_under_five_percent_passes_and_five_percent_fails():
    under = {**START, "rss_bytes": START["rss_bytes"] * 1.049}
    assert report.judge(START, under, [phase("none", 0)], 0).ok
    over = {**START, "threads": 15}  # 14 -> 15 is 7%
    verdict = report.judge(START, over, [phase("none", 0)], 0)
    assert not verdict.ok
    assert verdict.reasons == ["threads grew 7.1% (14 -> 15)"]


def test_5xx_count_only_outside_the_injected_error_fault():
    phases = [phase("error_rate", 900), phase("none", 0), phase("search_latency_ms", 0)]
    assert report.judge(START, START, phases, 0).ok
    verdict = report.judge(START, START, [*phases, phase("none", 2)], 0)
    assert (verdict.ok, verdict.unexpected_5xx) == (False, 2)


def test_a_request_without_an_answer_fails_the_soak():
    verdict = report.judge(START, START, [phase("none", 0)], 3)
    assert verdict.reasons == ["3 requests got no answer"]


def test_a_figure_that_starts_at_zero_fails_only_if_it_moves():
    assert report.growth(0, 0) == 0
    assert report.growth(0, 1) == float("inf")


def test_the_tables_show_each_figure_and_merge_repeated_phases():
    end = {**START, "rss_bytes": 102 * 2**20}
    table = report.resource_table(START, end, (0, 0))
    assert "| RSS (MiB)" in table and "100.0" in table and "102.0" in table and "+2.0%" in table
    phases = report.phase_table([phase("none", 0), phase("error_rate", 90), phase("none", 0)])
    rows = {line.split("|")[1].strip(): line for line in phases.splitlines()[2:]}
    assert set(rows) == {"none", "error_rate"}
    assert "| 2 " in rows["none"] and "| 60 " in rows["none"]  # two phases of 30 s


def test_metrics_text_gives_the_series_and_the_5xx_of_the_request_counter():
    text = (
        "# HELP marketplace_http_requests_total x\n"
        'marketplace_http_requests_total{method="GET",route="/a",code="200"} 10.0\n'
        'marketplace_http_requests_total{method="GET",route="/a",code="503"} 2.0\n'
        'marketplace_http_requests_created{method="GET",route="/a",code="503"} 1.7e9\n'
        "process_open_fds 12.0\n"
    )
    samples = probe.samples(text)
    assert len(samples) == 4
    assert probe.answered(samples) == 12
    assert probe.answered(samples, server_errors_only=True) == 2


def test_the_process_tree_of_this_test_is_read_from_proc():
    stats = probe.proc_stats(os.getpid())
    assert stats["rss_bytes"] > 0 and stats["threads"] >= 1 and stats["open_fds"] >= 3
    assert probe.tree(os.getpid())[0] == os.getpid()
