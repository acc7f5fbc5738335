"""Grafana on paper, dashboards: the three dashboards and what their queries compute.

Dashboards name datasources by uid, use modern panel types and the pinned schemaVersion; every
PromQL expression parses (promtool) and names only metrics the service, the recording rules or an
upstream exporter define; the native-stack suite evaluates them against Prometheus.
"""

import re
import subprocess

import pytest
import yaml
from grafanafiles import (
    ANGULAR_PANELS,
    BUILTIN_DATASOURCE_UIDS,
    CONTRACTS,
    DASHBOARD_FILES,
    LOKI_LABELS,
    MODERN_PANELS,
    SCHEMA_VERSION_BY_GRAFANA,
    SCHEMA_VERSION_BY_MAJOR,
    UPSTREAM_METRIC_PREFIXES,
    UPSTREAM_METRICS,
    all_panels,
    contract_metric_names,
    datasource_refs,
    datasources,
    load_dashboards,
    prometheus_rules,
    promql_metric_names,
    query_panels,
    recording_rule_names,
    substitute,
    targets_of,
)

from ops.stack.topology import load_env
from tests.conftest import require_binary

pytestmark = pytest.mark.contract


# --------------------------------------------------------------------------------- dashboards


def test_three_dashboards_with_the_contract_uids_and_titles():
    expected = dict(re.findall(r'`(marketplace-[a-z]+)`\s+\("([^"]+)"\)', CONTRACTS))
    found = {d["uid"]: d["title"] for d in load_dashboards().values()}
    assert len(expected) == 3 and found == expected
    assert len({d["uid"] for d in load_dashboards().values()}) == len(DASHBOARD_FILES)


def test_alert_dashboard_links_name_provisioned_dashboards():
    uids = {d["uid"] for d in load_dashboards().values()}
    links = [
        (rule["alert"], rule["annotations"]["dashboard_url"])
        for rule in prometheus_rules()
        if "dashboard_url" in rule.get("annotations", {})
    ]
    assert links, "no alert carries a dashboard_url"
    for alert, url in links:
        match = re.search(r"/d/([\w-]+)", url)
        assert match and match.group(1) in uids, f"{alert}: {url}"


def test_schema_version_is_the_pinned_grafanas():
    image = load_env()["GRAFANA_IMAGE"]
    major, minor = (int(n) for n in re.search(r":v?(\d+)\.(\d+)", image).groups())
    expected = SCHEMA_VERSION_BY_GRAFANA.get((major, minor), SCHEMA_VERSION_BY_MAJOR.get(major))
    assert expected, f"{image}: add its schemaVersion here and in docs/dashboards.md"
    for name, dash in load_dashboards().items():
        assert dash["schemaVersion"] == expected, name


def test_every_datasource_is_a_provisioned_uid():
    provisioned_uids = set(datasources()) | BUILTIN_DATASOURCE_UIDS
    for name, dash in load_dashboards().items():
        refs = list(datasource_refs(dash))
        assert refs, name
        for ref in refs:
            assert isinstance(ref, dict), f"{name}: datasource by name {ref!r}, not by uid"
            assert ref["uid"] in provisioned_uids, f"{name}: unknown datasource {ref}"


def test_panels_are_modern_with_a_query_per_target():
    for name, dash in load_dashboards().items():
        ids = [panel["id"] for panel in all_panels(dash)]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"
        for panel in query_panels(dash):
            where = f"{name} / {panel['title']}"
            assert panel["type"] not in ANGULAR_PANELS and panel["type"] in MODERN_PANELS, where
            assert panel["targets"], f"{where}: no targets"
            for target in panel["targets"]:
                assert target["datasource"] == panel["datasource"], where
                assert (target.get("expr") or target.get("query") or "").strip(), where


def test_panels_do_not_overlap():
    for name, dash in load_dashboards().items():
        cells = {}
        for panel in all_panels(dash):
            g = panel["gridPos"]
            assert g["x"] >= 0 and g["x"] + g["w"] <= 24, f"{name} / {panel['title']}"
            for x in range(g["x"], g["x"] + g["w"]):
                for y in range(g["y"], g["y"] + g["h"]):
                    assert (x, y) not in cells, f"{name}: {panel['title']} on {cells[(x, y)]}"
                    cells[(x, y)] = panel["title"]


def test_units_are_seconds_and_ratios():
    for name, dash in load_dashboards().items():
        for panel in query_panels(dash):
            unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
            title = panel["title"].lower()
            assert unit not in {"ms", "µs", "ns"}, f"{name} / {panel['title']}: {unit}"
            is_ratio = any(w in title for w in ("ratio", "slo", "compliance"))
            if ("latency" in title or "p95" in title) and not is_ratio:
                assert unit == "s", f"{name} / {panel['title']}: {unit}"
            if any(w in title for w in ("hit rate", "error rate", "compliance", "budget remain")):
                assert unit == "percentunit", f"{name} / {panel['title']}: {unit}"


def threshold_values(panel):
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    return [step["value"] for step in steps]


def test_slo_dashboard_keeps_the_spec_thresholds_and_version_variable():
    dash = load_dashboards()["marketplace-slo.json"]
    panels = {panel["title"]: panel for panel in query_panels(dash)}
    assert threshold_values(panels["Search latency p95"]) == [None, 0.2]
    assert threshold_values(panels["Cache hit rate"]) == [None, 0.8, 0.9]
    assert threshold_values(panels["Search error rate"]) == [None, 0.01]
    assert panels["Search latency p95"]["targets"][0].get("exemplar") is True
    (variable,) = [v for v in dash["templating"]["list"] if v["name"] == "version"]
    assert variable["multi"] and variable["includeAll"]
    assert variable["definition"] == 'label_values(up{job="marketplace"}, version)'


def rule_constants(record: str) -> dict[str, float]:
    """{slo: value} of the constant `vector(x)` rules recorded as `record`."""
    values = {}
    for rule in prometheus_rules():
        match = re.fullmatch(r"vector\(([\d.]+)\)", str(rule.get("expr", "")).strip())
        if rule.get("record") == record and match:
            values[rule["labels"]["slo"]] = float(match.group(1))
    return values


def test_slo_panels_cover_the_five_slos_with_the_recorded_objectives_and_windows():
    contract_slos = set(re.findall(r"`(\w+)`", re.search(r"`slo` in ([^;]+);", CONTRACTS)[1]))
    panel = {p["title"]: p for p in query_panels(load_dashboards()["marketplace-slo.json"])}
    compliance = panel["SLO compliance over the SLO window"]
    thresholds = {
        o["matcher"]["options"].split()[0].lstrip("^"): o["properties"][0]["value"]["steps"][1]
        for o in compliance["fieldConfig"]["overrides"]
    }
    assert len(contract_slos) == 5 and set(thresholds) == contract_slos
    objectives = rule_constants("marketplace:slo:objective")
    windows = rule_constants("marketplace:slo:window_days")
    assert objectives, "prometheus/rules record no marketplace:slo:objective"
    assert windows, "prometheus/rules record no marketplace:slo:window_days"
    assert {slo: step["value"] for slo, step in thresholds.items()} == objectives
    # PromQL cannot take a range from a series: each window is written out, one per value.
    expr = compliance["targets"][0]["expr"]
    assert panel["Error budget remaining"]["targets"][0]["expr"].startswith(f"1 - {expr[4:]}")
    for days in set(windows.values()):
        slos = sorted(slo for slo, d in windows.items() if d == days)
        others = sorted(set(windows) - set(slos))
        if len(slos) == 1:
            selector = f'slo="{slos[0]}"'
        else:
            assert len(others) == 1, "write one selector per window"
            selector = f'slo!="{others[0]}"'
        window = rf"\{{{selector}, [^}}]*\}}[^\[]*\[{int(days)}d(:\w+)?\]"
        assert re.search(window, expr), (selector, expr)


def test_promql_names_only_known_metrics():
    known = contract_metric_names() | recording_rule_names() | UPSTREAM_METRICS
    for name, title, target in targets_of(load_dashboards(), "prometheus"):
        for metric in promql_metric_names(target["expr"]):
            assert metric in known or metric.startswith(UPSTREAM_METRIC_PREFIXES), (
                f"{name} / {title}: {metric} is neither emitted nor recorded"
            )


def test_metric_name_extraction():
    expr = (
        'histogram_quantile(0.95, sum by (version, le) (rate(a_bucket{job="x", le=~"1e3"}'
        "[$__rate_interval]))) / on (slo) group_left () (1 - b:c) > bool 1e9"
    )
    assert promql_metric_names(expr) == {"a_bucket", "b:c"}


def test_promql_parses(tmp_path):
    promtool = require_binary("promtool")
    rules = []
    for name, title, target in targets_of(load_dashboards(), "prometheus"):
        expr = substitute(target["expr"])
        assert "$" not in expr, f"{name} / {title}: unknown variable in {expr}"
        rules.append({"record": f"dashboard:expr_{len(rules)}", "expr": expr})
    rules_file = tmp_path / "dashboards.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(rules_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# Two hours of series shaped like the recording rules' and the service's, and what the SLO
# dashboard's panels must compute from them (values rounded: promtool compares exactly).
RATIO_1H = "marketplace:slo:sli_error:ratio_rate1h"
EVAL_SERIES = {
    RATIO_1H + '{slo="search_latency", version="v2"}': "0.01x120",
    RATIO_1H + '{slo="cache_hit", version="v2"}': "0.1x120",
    RATIO_1H + '{slo="availability", version="v1"}': "0.002x120",
    # No lookups in the first minutes: 0/0. Those NaNs must not poison the window's average.
    RATIO_1H + '{slo="lookup_latency", version="v2"}': "NaN NaN 0.02x118",
    'marketplace_search_total{job="marketplace", version="v1"}': "0+60x120",
    'marketplace_search_total{job="marketplace", version="v2"}': "0+100x120",
    'marketplace_search_errors_total{job="marketplace", version="v2", error_type="injected"}': (
        "0+1x120"
    ),
    'marketplace_cache_misses_total{job="marketplace", version="v1", cache="search"}': "0+60x120",
    'marketplace_cache_hits_total{job="marketplace", version="v2", cache="search"}': "0+90x120",
    'marketplace_cache_misses_total{job="marketplace", version="v2", cache="search"}': "0+10x120",
}
EVAL_EXPECTED = {
    "SLO compliance over the SLO window": {
        '{slo="lookup_latency", version="v2"}': 0.98,
        '{slo="search_latency", version="v2"}': 0.99,
        '{slo="cache_hit", version="v2"}': 0.9,
        '{slo="availability", version="v1"}': 0.998,
    },
    "Error budget remaining": {
        '{slo="lookup_latency", version="v2"}': 0.6,
        '{slo="search_latency", version="v2"}': 0.8,
        '{slo="cache_hit", version="v2"}': 0.5,
        '{slo="availability", version="v1"}': -1,
    },
    "Error budget burn rate (1h)": {
        '{slo="lookup_latency", version="v2"}': 0.4,
        '{slo="search_latency", version="v2"}': 0.2,
        '{slo="cache_hit", version="v2"}': 0.5,
        '{slo="availability", version="v1"}': 2,
    },
    # v1 never failed (no error series) and never hit (no hit series): 0, not "No data".
    "Search error rate": {'{version="v1"}': 0, '{version="v2"}': 0.01},
    "Cache hit rate": {'{version="v1"}': 0, '{version="v2"}': 0.9},
}


def test_slo_panels_compute_compliance_budget_and_rates(tmp_path):
    promtool = require_binary("promtool")
    objectives = rule_constants("marketplace:slo:objective")
    assert objectives, "prometheus/rules record no marketplace:slo:objective"
    series = dict(EVAL_SERIES)
    for slo, value in objectives.items():
        series[f'marketplace:slo:objective{{slo="{slo}"}}'] = f"{value}x120"
    panel = {p["title"]: p for p in query_panels(load_dashboards()["marketplace-slo.json"])}

    # promtool's engine loads at most 10,000 samples per query: a 2h window stands in for the
    # 30d/7d subqueries (the windows themselves are checked above).
    def shortened(expr):
        return re.sub(r"\[\d+d:", "[2h:", substitute(expr))

    checks = [
        {
            "expr": f"round({shortened(panel[title]['targets'][0]['expr'])}, 0.0001)",
            "eval_time": "2h",
            "exp_samples": [{"labels": labels, "value": v} for labels, v in expected.items()],
        }
        for title, expected in EVAL_EXPECTED.items()
    ]
    test = {
        "interval": "1m",
        "input_series": [{"series": name, "values": values} for name, values in series.items()],
        "promql_expr_test": checks,
    }
    test_file = tmp_path / "panels.test.yml"
    test_file.write_text(yaml.safe_dump({"rule_files": [], "tests": [test]}, sort_keys=False))
    result = subprocess.run(
        [promtool, "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def loki_selectors(expr: str):
    """Each stream selector of a LogQL expression as {label: value}."""
    for selector in re.findall(r"\{([^}]*)\}", expr):
        yield dict(re.findall(r'(\w+)\s*(?:=~|!~|!=|=)\s*"([^"]*)"', selector))


def test_logql_uses_bounded_labels_and_parsed_fields():
    exprs = [t["expr"] for _, _, t in targets_of(load_dashboards(), "loki")]
    assert exprs
    for expr in exprs:
        selectors = list(loki_selectors(expr))
        assert selectors and all(set(s) <= LOKI_LABELS for s in selectors), expr
        # Promtail's job is the Prometheus job's name (test_promtail.py holds it to that).
        assert all(s.get("job") == "marketplace" for s in selectors), expr
        assert "level=ERROR" not in expr, f"line filter on a label: {expr}"
    joined = "\n".join(exprs)
    assert 'level="ERROR"' in joined
    assert re.search(r"\| json \|.*duration_ms > 200", joined)
    assert re.search(r'\| json \|.*cache_hit="false"', joined)
    assert re.search(r"\| json \|.*query=~", joined)
