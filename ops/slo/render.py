"""Output of the SLO review, drawn from the model.Report that report.py returns: rich tables
(terminal, or Markdown through rich's MARKDOWN box), JSON, and a matplotlib chart of the error
budget over time."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rich import box
from rich.console import Console
from rich.table import Table

from ops.promapi import console as wide_console
from ops.promapi import human_duration
from ops.slo.model import Report, Section, SloResult

BUDGET_FLOOR = -1.0  # the chart clips overspent budgets at -100% so the rest stays readable


def _num(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def slo_rows(slos: list[SloResult]) -> list[list[str]]:
    rows = []
    for s in slos:
        met = "no data" if s.met is None else ("✓ met" if s.met else "✗ missed")
        rows.append(
            [
                s.title,
                f"{100 * s.objective:g}%",
                human_duration(s.window_seconds),
                _num(None if s.compliance is None else 100 * s.compliance, "{:.3f}%"),
                s.coverage_note,
                _num(None if s.budget_remaining is None else 100 * s.budget_remaining, "{:.1f}%"),
                _num(s.burn_rate_1h, "{:.2f}x"),
                met,
            ]
        )
    return rows


SLO_COLUMNS = [
    "SLO",
    "Target",
    "Window",
    "Compliance",
    "Data used",
    "Budget left",
    "Burn rate (1h)",
    "Status",
]


def _table(
    columns: list[str], rows: list[list[str]], markdown: bool, title: str | None = None
) -> Table:
    table = Table(
        title=None if markdown else title, box=box.MARKDOWN if markdown else box.HEAVY_HEAD
    )
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*row)
    return table


def render_rich(report: Report, markdown: bool = False, console: Console | None = None) -> None:
    if console is None:
        console = Console(width=400, no_color=True, highlight=False) if markdown else wide_console()
    stamp = datetime.fromtimestamp(report.generated_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    head = f"SLO report for marketplace {report.version}, {stamp}; period: {report.window_label}"
    sections: list[tuple[str, list[str], list[list[str]], str, str]] = [
        (
            "Service level objectives",
            SLO_COLUMNS,
            slo_rows(report.slos),
            "Prometheus: mean of every marketplace:slo:sli_error:ratio_rate5m sample in the "
            "window, NaN left out (compliance); ratio_rate1h (burn rate)",
            "",
        ),
    ]
    for sec in (report.cache, report.slow_queries, report.alerts):
        sections.append((sec.title, sec.columns, sec.rows, sec.source, sec.note))
    if markdown:
        console.print(f"# {head}\n", markup=False)
    else:
        console.print(f"[bold]{head}[/]")
    for title, columns, rows, source, note in sections:
        if markdown:
            console.print(f"## {title}\n", markup=False)
        if rows and markdown:
            with console.capture() as capture:
                console.print(_table(columns, rows, markdown, title))
            text = "\n".join(line.rstrip() for line in capture.get().splitlines() if line.strip())
            console.print(text + "\n", markup=False, highlight=False, soft_wrap=True)
        elif rows:
            console.print(_table(columns, rows, markdown, title))
        for line in (f"Source: {source}" if source else "", note):
            if line:
                console.print(f"{'' if markdown else '  '}{line}", markup=False, soft_wrap=markdown)
        console.print()


def report_dict(report: Report) -> dict:
    def section(sec: Section) -> dict:
        return {"source": sec.source, "note": sec.note, "items": sec.records}

    return {
        "generated_at": datetime.fromtimestamp(report.generated_at, UTC)
        .isoformat()
        .replace("+00:00", "Z"),
        "version": report.version,
        "period": report.window_label,
        "slos": [
            {
                "slo": s.slo,
                "title": s.title,
                "objective": s.objective,
                "window_seconds": s.window_seconds,
                "data_seconds": round(s.covered_seconds, 1),
                "data_used": s.coverage_note,
                "compliance": s.compliance,
                "error_budget_remaining": s.budget_remaining,
                "burn_rate_1h": s.burn_rate_1h,
                "met": s.met,
            }
            for s in report.slos
        ],
        "cache": section(report.cache),
        "slowest_searches": section(report.slow_queries),
        "alerts_fired": section(report.alerts),
    }


def render_json(report: Report) -> str:
    return json.dumps(report_dict(report), indent=2, allow_nan=False, default=str)


# ConciseDateFormatter's tick formats by level (years, months, days, hours, minutes, seconds),
# with a time wherever the default writes a bare day ("15") or a bare second ("30").
TICK_FORMATS = ["%Y", "%b", "%b %d", "%H:%M", "%H:%M", "%H:%M:%S"]
ZERO_FORMATS = ["", "%Y", "%b", "%b %d", "%H:%M", "%H:%M"]


def time_axis(axis) -> None:
    """Date ticks on a matplotlib x axis, every label a time or a date, in UTC."""
    from matplotlib import dates as mdates

    locator = mdates.AutoDateLocator(tz=UTC)
    axis.set_major_locator(locator)
    axis.set_major_formatter(
        mdates.ConciseDateFormatter(
            locator, tz=UTC, formats=TICK_FORMATS, zero_formats=ZERO_FORMATS
        )
    )


def budget_figure(report: Report):
    """The error budget chart as a matplotlib Figure (render_png saves it)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 5), dpi=100)
    plotted = 0
    styles = ["-", "--", "-.", ":", (0, (5, 1, 1, 1))]
    for n, s in enumerate(report.slos):
        if not s.budget_series:
            continue
        times = [datetime.fromtimestamp(t, UTC) for t, _ in s.budget_series]
        values = [100 * max(BUDGET_FLOOR, v) for _, v in s.budget_series]
        ax.plot(
            times,
            values,
            label=f"{s.title} ({100 * s.objective:g}%)",
            linewidth=1.8,
            linestyle=styles[n % len(styles)],
        )
        plotted += 1
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_ylabel("error budget remaining (%)")
    ax.set_ylim(100 * BUDGET_FLOOR - 5, 105)
    ax.set_title(
        f"Marketplace {report.version}: error budget over time (clipped at {100 * BUDGET_FLOOR:g}%)"
    )
    time_axis(ax.xaxis)
    ax.set_xlabel("time (UTC)")
    ax.grid(alpha=0.3)
    if plotted:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.15), ncol=3, fontsize=8)
    else:
        ax.text(0.5, 0.5, "no SLO data in Prometheus yet", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    return fig


def render_png(report: Report, path: str) -> None:
    from matplotlib import pyplot as plt

    fig = budget_figure(report)
    fig.savefig(path)
    plt.close(fig)
