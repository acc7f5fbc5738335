"""The benchmark's table: figures from the runs, each target beside its figure with a mark."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    measure: str
    value: float | None
    unit: str
    target: str = ""  # e.g. "<= 5", ">= 50"
    passed: bool | None = None


def check(value: float | None, target: str) -> bool | None:
    if value is None or not target:
        return None
    op, _, bound = target.partition(" ")
    return value <= float(bound) if op == "<=" else value >= float(bound)


def row(measure: str, value: float | None, unit: str, target: str = "") -> Row:
    return Row(
        measure, None if value is None else round(value, 2), unit, target, check(value, target)
    )


def build_table(data: dict) -> list[Row]:
    empty: dict = {"results": {}}
    v2, plain, v1, bare = (
        data["runs"].get(k, empty) for k in ("v2", "v2_uninstrumented", "v1", "bare")
    )

    def fig(run: dict, name: str, key: str) -> float | None:
        return run["results"].get(name, {}).get(key)

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    v2_rps, plain_rps = fig(v2, "search_c16", "rps"), fig(plain, "search_c16", "rps")
    bare_rps = fig(bare, "search_c16", "rps")
    # v1 too slow for 16 connections: its one-connection throughput stands in (see "skipped")
    v1_rps = fig(v1, "search_c16", "rps")
    v1_label = "v1 search throughput, 16 connections"
    if v1_rps is None and fig(v1, "search_c1", "requests"):
        # one connection is a closed loop: throughput is 1 / service time, and unlike
        # requests / run length it does not count the run's unfinished last request as zero
        v1_rps = 1000 / fig(v1, "search_c1", "mean_ms")
        v1_label = "v1 search throughput, 1 connection *"
    to_ceiling = ratio(v2_rps, bare_rps)
    cost = None if ratio(v2_rps, plain_rps) is None else 100 * (1 - ratio(v2_rps, plain_rps))
    hit = v2.get("search_cache_hit_ratio")
    # CPU per request of the serving process: throughput = 1 / CPU for a GIL-bound server, and
    # unlike throughput it barely moves with the other work on a shared machine
    v2_cpu, plain_cpu, bare_cpu = (
        fig(run, "search_c16", "cpu_ms_per_request") for run in (v2, plain, bare)
    )
    cpu_cost = None if ratio(plain_cpu, v2_cpu) is None else 100 * (1 - ratio(plain_cpu, v2_cpu))
    cpu_to_ceiling = ratio(bare_cpu, v2_cpu) and 100 * ratio(bare_cpu, v2_cpu)
    rss = v2.get("memory", {}).get("rss_mb")
    return [
        row("v2 search p50, 1 connection", fig(v2, "search_c1", "p50_ms"), "ms"),
        row("v2 search p99, 1 connection", fig(v2, "search_c1", "p99_ms"), "ms", "<= 5"),
        row("v2 lookup p50, 1 connection", fig(v2, "lookup_c1", "p50_ms"), "ms"),
        row("v2 lookup p99, 1 connection", fig(v2, "lookup_c1", "p99_ms"), "ms", "<= 3"),
        # the same client, server settings and body with no work at all: the machine's own tail
        row("bare Flask p50, 1 connection", fig(bare, "search_c1", "p50_ms"), "ms"),
        row("bare Flask p99, 1 connection", fig(bare, "search_c1", "p99_ms"), "ms"),
        row("v2 search throughput, 16 connections", v2_rps, "req/s"),
        row("bare Flask ceiling, 16 connections", bare_rps, "req/s"),
        row("v2 search throughput / ceiling", to_ceiling and 100 * to_ceiling, "%", ">= 50"),
        row("v1 search p50, 1 connection", fig(v1, "search_c1", "p50_ms"), "ms"),
        row(v1_label, v1_rps, "req/s"),
        row("v2 / v1 search throughput", ratio(v2_rps, v1_rps), "x"),
        row("v2 uninstrumented search p50, 1 conn", fig(plain, "search_c1", "p50_ms"), "ms"),
        row("v2 uninstrumented search p99, 1 conn", fig(plain, "search_c1", "p99_ms"), "ms"),
        row("v2 uninstrumented lookup p50, 1 conn", fig(plain, "lookup_c1", "p50_ms"), "ms"),
        row("v2 uninstrumented lookup p99, 1 conn", fig(plain, "lookup_c1", "p99_ms"), "ms"),
        row("v2 uninstrumented search throughput, 16", plain_rps, "req/s"),
        row("instrumentation cost (throughput lost)", cost, "%", "<= 25"),
        row("v2 search CPU per request, 16 conn", v2_cpu, "ms"),
        row("v2 uninstrumented CPU per request", plain_cpu, "ms"),
        row("bare Flask CPU per request", bare_cpu, "ms"),
        row("instrumentation cost (CPU per request)", cpu_cost, "%", "<= 25"),
        row("v2 / ceiling by CPU per request", cpu_to_ceiling, "%", ">= 50"),
        row("v2 start-up to ready (/readyz)", v2.get("ready_seconds"), "s", "<= 15"),
        row("v2 RSS at 10,000 packages (worker)", rss, "MB", "<= 300"),
        row("v2 search cache hit ratio in the runs", None if hit is None else 100 * hit, "%"),
    ]


def notes(data: dict) -> list[str]:
    v1 = data["runs"].get("v1", {})
    lines = [f"* {v1['skipped']}"] if "skipped" in v1 else []
    for name, phase in data["runs"].items():
        if "error" in phase:
            lines.append(f"! {name} failed: {phase['error'].splitlines()[0]}")
        for load, result in phase.get("results", {}).items():
            if result["non_2xx"] or result["socket_errors"]:
                lines.append(
                    f"! {name} {load}: {result['non_2xx']} non-2xx answers,"
                    f" {result['socket_errors']} socket errors or timeouts"
                )
    load = ", ".join(f"{x:.1f}" for x in data["load_average_before"])
    lines.append(
        f"{data['catalog_size']:,} packages; {data['client']}; {data['cpus']} CPUs, load average"
        f" before {load}; gunicorn 1 worker x {data.get('threads')} threads"
    )
    return lines


def render(rows: list[Row]) -> str:
    mark = {True: "PASS", False: "FAIL", None: ""}
    lines = [
        f"{'measure':<42} {'measured':>15}  {'target':<8} {'':4}",
        f"{'-' * 42} {'-' * 15}  {'-' * 8} {'-' * 4}",
    ]
    for r in rows:
        value = "n/a" if r.value is None else f"{r.value:,.2f} {r.unit}"
        target = f"{r.target} {r.unit}".replace(" x", "x") if r.target else ""
        lines.append(f"{r.measure:<42} {value:>15}  {target:<8} {mark[r.passed]}")
    return "\n".join(lines)
