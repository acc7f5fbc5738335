"""The benchmark's two tables: issue 10's targets, each beside its figure with ✓/✗, and the cost
of each signal (CPU per request of the serving process, one signal added at a time)."""

from __future__ import annotations

from dataclasses import dataclass

EMPTY: dict = {"results": {}}


@dataclass
class Row:
    measure: str
    value: float | None
    unit: str
    target: str = ""  # e.g. "<= 5", ">= 2"
    passed: bool | None = None


@dataclass
class SignalRow:
    configuration: str
    cpu_us: float | None  # CPU per request of the serving process, 16 connections
    cost_us: float | None  # against the row it adds to
    cost_pct: float | None  # the cost as a share of the metrics-only CPU per request
    rps: float | None


def check(value: float | None, target: str) -> bool | None:
    if value is None or not target:
        return None
    op, _, bound = target.partition(" ")
    return value <= float(bound) if op == "<=" else value >= float(bound)


def row(measure: str, value: float | None, unit: str, target: str = "") -> Row:
    return Row(
        measure, None if value is None else round(value, 2), unit, target, check(value, target)
    )


def fig(data: dict, run: str, load: str, key: str) -> float | None:
    return data["runs"].get(run, EMPTY)["results"].get(load, {}).get(key)


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def cpu(data: dict, run: str) -> float | None:
    return fig(data, run, "search_c16", "cpu_ms_per_request")


def build_table(data: dict) -> list[Row]:
    runs = data["runs"]
    shipped = runs.get("shipped", EMPTY)

    def rps(run: str) -> float | None:
        return fig(data, run, "search_c16", "rps")

    def p99(run: str, load: str = "search_c1") -> float | None:
        return fig(data, run, load, "p99_ms")

    def pct(value: float | None) -> float | None:
        return None if value is None else 100 * value

    overhead = ratio(cpu(data, "shipped"), cpu(data, "signal_metrics"))
    by_cpu = ratio(cpu(data, "stock"), cpu(data, "shipped"))
    servers = ratio(cpu(data, "shipped_gunicorn"), cpu(data, "shipped"))
    rss = shipped.get("memory", {}).get("rss_mb")
    hit = shipped.get("search_cache_hit_ratio")
    other_protocol = (
        "http/protobuf"
        if data.get("compose_environment", {}).get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc") == "grpc"
        else "grpc"
    )
    sampled = runs.get("sampled_10", EMPTY)
    to_ceiling = pct(ratio(rps("shipped"), rps("bare_granian")))
    # seconds until the server was idle after each 16-connection load: the export's backlog
    settles = fig(data, "shipped", "search_c16", "settle_seconds_rounds")
    return [
        row("v2 search throughput, shipped (16 conn)", rps("shipped"), "req/s"),
        row("v2 search throughput, stock setup", rps("stock"), "req/s"),
        row("shipped / stock, throughput", ratio(rps("shipped"), rps("stock")), "x", ">= 2"),
        row("shipped / stock, by CPU per request", by_cpu, "x"),
        row("instrumentation overhead (CPU vs metrics)", pct(overhead and overhead - 1),
            "%", "<= 40"),
        row("v2 search p99, 1 connection, shipped", p99("shipped"), "ms", "<= 3"),
        row("v2 lookup p99, 1 connection, shipped", p99("shipped", "lookup_c1"), "ms", "<= 2"),
        row("v2 start-up to ready (/readyz)", shipped.get("ready_seconds"), "s", "<= 15"),
        row("v2 RSS at 10,000 packages (worker)", rss, "MB", "<= 300"),
        # context: the server comparison, the ceilings, sampling, the tail, and the evidence
        row("shipped app on gunicorn, throughput", rps("shipped_gunicorn"), "req/s"),
        row("granian / gunicorn, same app, by CPU", servers, "x"),
        row("bare Flask ceiling, granian", rps("bare_granian"), "req/s"),
        row("bare Flask ceiling, gunicorn", rps("bare_gunicorn"), "req/s"),
        row("shipped / bare ceiling (granian)", to_ceiling, "%"),
        row("bare Flask p99, 1 connection, granian", p99("bare_granian"), "ms"),
        row("shipped at a 10% sampler, throughput", rps("sampled_10"), "req/s"),
        row("shipped at a 10% sampler, CPU per request", cpu(data, "sampled_10"), "ms"),
        row("search p99, 1 conn, SDK batch defaults", p99("export_sdk_defaults"), "ms"),
        row(f"search p99, 1 conn, {other_protocol} exporter", p99("export_other_protocol"), "ms"),
        row("search p99, 1 conn, shipped (same rounds)", p99("shipped"), "ms"),
        row("search p99, 1 conn, whole-batch encoding", p99("export_whole_batches"), "ms"),
        row("lookup p99, 1 conn, whole-batch encoding",
            p99("export_whole_batches", "lookup_c1"), "ms"),
        row("whole-batch encoding, CPU per request", cpu(data, "export_whole_batches"), "ms"),
        row("shipped, CPU per request (same rounds)", cpu(data, "shipped"), "ms"),
        row("spans received per request, shipped", shipped.get("spans_per_request"), ""),
        row("spans received / spans made, shipped", shipped.get("spans_delivered"), ""),
        row("spans received per request, 10% sampler", sampled.get("spans_per_request"), ""),
        row("spans dropped (full queue), shipped", shipped.get("spans_dropped"), ""),
        row("shipped idle after a 16-conn load, at most", max(settles or [None]), "s"),
        row("v2 search cache hit ratio in the runs", pct(hit), "%"),
        row("v1 search p50, 1 connection", fig(data, "v1", "search_c1", "p50_ms"), "ms"),
    ]  # fmt: skip


def build_signal_table(data: dict) -> list[SignalRow]:
    base = cpu(data, "signal_metrics")
    steps = [
        ("metrics only (tracing off, logs at warning)", "signal_metrics", None),
        ("+ server span (WSGI middleware)", "signal_server_span", "signal_metrics"),
        ("+ internal spans (search, cache, RDF)", "signal_internal_spans", "signal_server_span"),
        ("+ logs, stdout", "signal_logs_stdout", "signal_internal_spans"),
        ("+ logs, file (instead of stdout)", "signal_logs_file", "signal_internal_spans"),
        ("+ OTLP export to a live sink = shipped", "shipped", "signal_logs_file"),
        ("total instrumentation (shipped - metrics)", "shipped", "signal_metrics"),
        ("stock setup (gunicorn), for comparison", "stock", "signal_metrics"),
    ]
    rows = []
    for label, run, previous in steps:
        value = cpu(data, run)
        cost = None if previous is None else _minus(value, cpu(data, previous))
        rows.append(
            SignalRow(
                label,
                None if value is None else round(1000 * value),
                None if cost is None else round(1000 * cost),
                None if cost is None or not base else round(100 * cost / base, 1),
                fig(data, run, "search_c16", "rps"),
            )
        )
    return rows


def _minus(a: float | None, b: float | None) -> float | None:
    return a - b if a is not None and b is not None else None


def notes(data: dict) -> list[str]:
    lines = []
    for name, phase in data["runs"].items():
        if "skipped" in phase:
            lines.append(f"* {name} {phase['skipped']}")
        if "error" in phase:
            lines.append(f"! {name} failed: {phase['error'].splitlines()[0]}")
        for load, result in phase.get("results", {}).items():
            if result["non_2xx"] or result["socket_errors"]:
                lines.append(
                    f"! {name} {load}: {result['non_2xx']} non-2xx answers,"
                    f" {result['socket_errors']} socket errors or timeouts"
                )
    before = ", ".join(f"{x:.1f}" for x in data["load_average_before"])
    after = ", ".join(f"{x:.1f}" for x in data.get("load_average_after", ()))
    lines.append(
        f"{data['catalog_size']:,} packages; {data['client']}; {data['cpus']} CPUs, load average"
        f" before {before}, after {after}; shipped server {data.get('server')}, 1 worker x"
        f" {data.get('threads')} threads"
    )
    return lines


def render(rows: list[Row]) -> str:
    mark = {True: "✓", False: "✗", None: ""}
    lines = [
        f"{'measure':<46} {'measured':>15}  {'target':<9} {'':2}",
        f"{'-' * 46} {'-' * 15}  {'-' * 9} {'-' * 2}",
    ]
    for r in rows:
        value = "n/a" if r.value is None else f"{r.value:,.2f} {r.unit}".rstrip()
        target = f"{r.target} {r.unit}".replace(" x", "x") if r.target else ""
        lines.append(f"{r.measure:<46} {value:>15}  {target:<9} {mark[r.passed]}")
    return "\n".join(lines)


def render_signals(rows: list[SignalRow]) -> str:
    def num(value, unit=""):
        return "n/a" if value is None else f"{value:,.0f}{unit}"

    lines = [
        f"{'per-signal cost, search at 16 connections':<46} {'CPU µs/req':>10} {'cost µs':>8}"
        f" {'% of metrics':>12} {'req/s':>8}",
        f"{'-' * 46} {'-' * 10} {'-' * 8} {'-' * 12} {'-' * 8}",
    ]
    for r in rows:
        pct = "" if r.cost_pct is None else f"{r.cost_pct:+.1f} %"
        cost = "" if r.cost_us is None else num(r.cost_us)
        lines.append(
            f"{r.configuration:<46} {num(r.cpu_us):>10} {cost:>8} {pct:>12} {num(r.rps):>8}"
        )
    return "\n".join(lines)
