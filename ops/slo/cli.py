"""The weekly SLO review: compliance, error budget and burn rate of the spec's five SLOs.

Besides the SLOs: the cache hit rate, the slowest searches and the alerts that fired.

    python -m ops.slo [--window 7d] [--version v2] [--format table|json|markdown]
                      [--png FILE]

report.py computes (how compliance is measured is said there); render.py draws what it returns.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console

from ops.promapi import Endpoints, OpsError, parse_duration
from ops.slo import report as slo_report
from ops.slo import searches
from ops.slo.render import render_json, render_png, render_rich


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops.slo", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--window", help="review period for every SLO, e.g. 7d (default: each SLO's own)"
    )
    parser.add_argument("--version", default="v2", help="service variant to report on (default v2)")
    parser.add_argument("--format", choices=("table", "json", "markdown"), default="table")
    parser.add_argument(
        "--png",
        metavar="FILE",
        help="also write a chart of the error budget over time; a bare file name goes into "
        "--run-dir (default .run/), so a report never lands in the working tree",
    )
    parser.add_argument("--top", type=int, default=10, help="how many slow searches to list")
    parser.add_argument(
        "--logs",
        action="append",
        metavar="GLOB",
        help="service log files to read slow searches from when Loki is not reachable "
        "(default: the service logs under --run-dir)",
    )
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=searches.RUN_DIR,
        help="the native stack's run directory, whose logs/ hold the service logs (default .run)",
    )
    return parser


def png_path(name: str, run_dir: Path) -> Path:
    """Where --png writes: a bare file name in the run directory, any other path as given."""
    path = Path(name)
    return run_dir / path if path.parent == Path() and not path.is_absolute() else path


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        window = parse_duration(args.window) if args.window else None
        report = slo_report.build_report(
            Endpoints.from_env(), args.version, window, args.top, args.logs, args.run_dir
        )
    except (OpsError, ValueError) as exc:
        Console(stderr=True).print(f"[red]slo-report failed:[/] {exc}")
        return 2
    if args.format == "json":
        print(render_json(report))
    else:
        render_rich(report, markdown=args.format == "markdown")
    if args.png:
        png = png_path(args.png, args.run_dir)
        png.parent.mkdir(parents=True, exist_ok=True)
        render_png(report, str(png))
        Console(stderr=True).print(f"error budget chart written to {png}")
    return 0
