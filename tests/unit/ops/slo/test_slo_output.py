"""The SLO review's output: Markdown, JSON and the chart, and the command's exit status."""

import json
import re
from io import StringIO
from pathlib import Path

import pytest
from rich.console import Console

from ops.promapi import OpsError
from ops.slo import cli as slo_cli
from ops.slo import render as slo_render
from ops.slo import report as slo_report
from ops.slo import searches
from ops.slo.model import Report, Section, SloResult
from ops.stack import topology
from tests.unit.ops.slo.fakeprom import NOW

pytestmark = pytest.mark.unit


def _report():
    slos = [
        SloResult(
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
        SloResult("availability", "Availability > 99.9%", 0.999, 30 * 86400),
    ]
    section = Section("Alerts that fired", ["Alert"], [["X"]], [{"alertname": "X"}], "Prometheus")
    empty = Section("Slowest searches", ["Query"], note="no completed searches in the period")
    return Report(NOW, "v2", "10m", slos, empty, empty, section)


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
    assert slo_cli.main(["--format", "json"]) == 2


def _budget_over(span):
    points = [(NOW - span + i * span / 50, 1 - i / 100) for i in range(51)]
    slo = SloResult("errors", "Error rate < 1%", 0.99, span, span, 0.995, 0.5, 1.0, points)
    empty = Section("Slowest searches", ["Query"])
    return Report(NOW, "v2", "window", [slo], empty, empty, empty)


@pytest.mark.parametrize("span", [120, 600, 3600, 6 * 3600, 86400, 7 * 86400, 30 * 86400])
def test_budget_chart_ticks_are_labelled_as_times_or_dates(span):
    from matplotlib import pyplot as plt

    fig = slo_render.budget_figure(_budget_over(span))
    try:
        fig.canvas.draw()
        labels = [tick.get_text() for tick in fig.axes[0].get_xticklabels()]
    finally:
        plt.close(fig)
    assert len(labels) >= 3
    time_or_date = re.compile(r"^(\d\d:\d\d(:\d\d)?|[A-Z][a-z]{2}( \d\d)?|\d{4})$")
    assert all(time_or_date.match(label) for label in labels), labels
    assert not any(label.isdigit() and len(label) <= 2 for label in labels), labels
    if span <= 6 * 3600:
        assert all(":" in label for label in labels), labels  # within a day: times only


def test_a_bare_png_name_is_written_into_the_run_directory(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(slo_report, "build_report", lambda *args, **kwargs: _report())
    work, run_dir = tmp_path / "checkout", tmp_path / "run"
    work.mkdir()
    monkeypatch.chdir(work)
    argv = ["--format", "json", "--run-dir", str(run_dir), "--png", "budget.png"]
    assert slo_cli.main(argv) == 0
    assert (run_dir / "budget.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert list(work.iterdir()) == []  # nothing left in the working directory
    assert f"written to {run_dir / 'budget.png'}" in capsys.readouterr().err.replace("\n", "")
    elsewhere = tmp_path / "reports" / "b.png"
    assert slo_cli.main([*argv[:-1], str(elsewhere)]) == 0  # a path with a directory: as given
    assert elsewhere.is_file()


def test_the_png_default_directory_is_the_native_run_directory():
    run_dir = topology.REPO_ROOT / ".run"
    assert slo_cli.png_path("budget.png", searches.RUN_DIR) == run_dir / "budget.png"
    assert slo_cli.png_path("out/budget.png", searches.RUN_DIR) == Path("out/budget.png")
    assert slo_cli.build_parser().parse_args([]).run_dir == run_dir
