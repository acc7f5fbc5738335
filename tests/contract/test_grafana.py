"""Grafana on paper: provisioned datasources, the dashboards provider and the three dashboards.

Grafana cannot run here, so these tests hold the files to what Grafana does with them:
- provisioning values go through Grafana's env interpolation (`$$` is a literal `$`);
- dashboards name datasources by uid, use modern panel types and the pinned schemaVersion;
- every PromQL expression parses (promtool) and names only metrics the service, the recording
  rules or an upstream exporter define; the native-stack suite evaluates them against Prometheus.
"""

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from ops.topology import COMPONENTS, load_env
from tests.conftest import require_binary

pytestmark = pytest.mark.contract

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "grafana"
DATASOURCES_FILE = GRAFANA / "provisioning" / "datasources" / "datasources.yaml"
PROVIDER_FILE = GRAFANA / "provisioning" / "dashboards" / "dashboards.yaml"
DASHBOARD_FILES = sorted((GRAFANA / "dashboards").glob("*.json"))
CONTRACTS = (REPO / "docs" / "contracts.md").read_text(encoding="utf-8")

# Classic dashboard JSON's schemaVersion as each Grafana line writes it (docs/dashboards.md):
# v42 landed in 12.2 (grafana#110517) and is the last version of the v1 dashboard API
# (DashboardMigrator.ts: "Schema version 42 is the FINAL version"), so 13.x still writes 42.
SCHEMA_VERSION_BY_GRAFANA = {(12, 0): 41, (12, 1): 41, (12, 2): 42, (12, 3): 42, (12, 4): 42}
SCHEMA_VERSION_BY_MAJOR = {13: 42}

MODERN_PANELS = {"timeseries", "stat", "gauge", "bargauge", "table", "logs", "text", "row"}
# fmt: off
ANGULAR_PANELS = {"graph", "singlestat", "table-old", "grafana-piechart-panel",
                  "grafana-worldmap-panel", "natel-discrete-panel", "grafana-clock-panel"}
# fmt: on
BUILTIN_DATASOURCE_UIDS = {"-- Grafana --"}
# Loki index labels Promtail sets (docs/contracts.md); never `query`.
LOKI_LABELS = {"job", "service", "version", "level"}
# fmt: off
UPSTREAM_METRIC_PREFIXES = ("process_", "python_", "traces_spanmetrics_", "traces_span_metrics_",
                            "traces_service_graph_", "otelcol_", "prometheus_", "ALERTS")
# fmt: on
UPSTREAM_METRICS = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
# Dashboard variables, replaced the way the native-stack suite replaces them.
PROMQL_SUBSTITUTIONS = {"$__rate_interval": "5m", "$version": "v1|v2"}


def load_dashboards():
    return {path.name: json.loads(path.read_text(encoding="utf-8")) for path in DASHBOARD_FILES}


def all_panels(dashboard):
    for panel in dashboard.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def query_panels(dashboard):
    return [panel for panel in all_panels(dashboard) if panel["type"] != "row"]


def targets_of(dashboards, ds_type):
    for name, dash in dashboards.items():
        for panel in query_panels(dash):
            for target in panel.get("targets", []):
                if target["datasource"]["type"] == ds_type:
                    yield name, panel["title"], target


def datasource_refs(node):
    """Every `datasource` value in a dashboard: panels, targets, variables, annotations."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                yield value
            else:
                yield from datasource_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from datasource_refs(item)


def go_expand(text: str, mapping) -> str:
    """Go's os.Expand, which Grafana applies to every provisioning string value."""
    out, i = [], 0
    while i < len(text):
        if text[i] != "$" or i + 1 == len(text):
            out.append(text[i])
            i += 1
            continue
        rest = text[i + 1 :]
        if rest[0] == "{":
            end = rest.find("}")
            if end <= 1:  # "${" or "${}": bad syntax, Go eats it
                i += 2 if end == -1 else 3
                continue
            out.append(mapping(rest[1:end]))
            i += end + 2
            continue
        if rest[0] in "*#$@!?-0123456789":
            out.append(mapping(rest[0]))
            i += 2
            continue
        name = re.match(r"[A-Za-z0-9_]*", rest).group(0)
        out.append(mapping(name) if name else "$")
        i += 1 + len(name)
    return "".join(out)


def grafana_interpolate(value: str, mapping) -> str:
    """pkg/services/provisioning/values.interpolateValue: `$$` is a literal `$`."""
    return "$".join(go_expand(part, mapping) for part in value.split("$$"))


def provisioned(path: Path, env=None, looked_up=None):
    """A provisioning file as Grafana reads it with the environment `env` (default: .env's
    values, as compose passes them); the names Grafana looks up are added to `looked_up`."""
    env = load_env() if env is None else env
    looked_up = set() if looked_up is None else looked_up

    def lookup(name):
        looked_up.add(name)
        return env.get(name, "")

    def walk(node):
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        if isinstance(node, str):
            return grafana_interpolate(node, lookup)
        return node

    return walk(yaml.safe_load(path.read_text(encoding="utf-8")))


def datasources():
    return {ds["uid"]: ds for ds in provisioned(DATASOURCES_FILE)["datasources"]}


def port_variables() -> set[str]:
    """The .env port variables the datasources read (their only environment lookups)."""
    looked_up = set()
    provisioned(DATASOURCES_FILE, looked_up=looked_up)
    return looked_up


def contract_metric_names() -> set[str]:
    """Series names the service exposes, from the metrics table of docs/contracts.md."""
    section = CONTRACTS.split("### Metrics", 1)[1].split("###", 1)[0]
    names = set()
    for line in section.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) < 2 or not cells[0].startswith("`marketplace_"):
            continue
        for name in re.findall(r"`([a-z_]+)`", cells[0]):
            names.add(name)
            if cells[1].startswith("histogram"):
                names.update({f"{name}_bucket", f"{name}_sum", f"{name}_count"})
    return names


def prometheus_rules():
    """Every rule of prometheus/rules/*.yml (the rules engineer's files)."""
    for path in sorted((REPO / "prometheus" / "rules").glob("*.yml")):
        for group in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("groups", []):
            yield from group.get("rules", [])


def recording_rule_names() -> set[str]:
    return {rule["record"] for rule in prometheus_rules() if "record" in rule}


# fmt: off
PROMQL_WORDS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
                "bottomk", "topk", "quantile", "limitk", "limit_ratio", "by", "without", "on",
                "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset",
                "inf", "nan", "atan2"}
# fmt: on


def promql_metric_names(expr: str) -> set[str]:
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`', '""', expr)
    text = re.sub(r"\{[^}]*\}", "{}", text)
    text = re.sub(r"\[[^\]]*\]", "[]", text)
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", text)
    names = set()
    for match in re.finditer(r"(?<![\w.$])[A-Za-z_:][A-Za-z0-9_:]*", text):
        name = match.group(0)
        if name.lower() in PROMQL_WORDS or re.match(r"\s*\(", text[match.end() :]):
            continue
        names.add(name)
    return names


def substitute(expr: str) -> str:
    for variable, value in PROMQL_SUBSTITUTIONS.items():
        expr = expr.replace(variable, value)
    return expr


# ------------------------------------------------------------------------------ datasources


def test_datasources_have_the_contract_uids_and_types():
    found = {uid: ds["type"] for uid, ds in datasources().items()}
    assert found == {
        "prometheus": "prometheus",
        "loki": "loki",
        "tempo": "tempo",
        "alertmanager": "alertmanager",
    }
    assert [uid for uid, ds in datasources().items() if ds.get("isDefault")] == ["prometheus"]
    assert datasources()["alertmanager"]["jsonData"]["implementation"] == "prometheus"


def test_datasource_urls_are_compose_services_on_env_ports():
    raw = yaml.safe_load(DATASOURCES_FILE.read_text(encoding="utf-8"))["datasources"]
    for ds in raw:
        match = re.fullmatch(r"http://([a-z0-9-]+):\$\{(\w+)\}", ds["url"])
        assert match, f"{ds['uid']}: url {ds['url']!r} is not http://<service>:${{<PORT>}}"
        host, variable = match.groups()
        assert host in COMPONENTS, f"{ds['uid']}: {host} is not a compose service"
        assert variable == COMPONENTS[host][0], f"{ds['uid']}: {host} listens on {variable}"
        assert datasources()[ds["uid"]]["url"] == f"http://{host}:{load_env()[variable]}"


def test_datasources_are_cross_linked():
    ds = datasources()
    exemplars = ds["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    # The exemplar label the service puts on its histograms (docs/contracts.md).
    assert "Exemplar label: `trace_id`" in CONTRACTS
    assert "trace_id" in [e["name"] for e in exemplars]
    assert {e["datasourceUid"] for e in exemplars} == {"tempo"}

    derived = ds["loki"]["jsonData"]["derivedFields"]
    assert [(f["matcherType"], f["matcherRegex"], f["datasourceUid"]) for f in derived] == [
        ("label", "trace_id", "tempo")
    ]
    assert derived[0]["url"] == "${__value.raw}"

    tempo = ds["tempo"]["jsonData"]
    logs = tempo["tracesToLogsV2"]
    assert logs["datasourceUid"] == "loki" and logs["filterByTraceID"] is True
    assert {tag.get("value", tag["key"]) for tag in logs["tags"]} <= LOKI_LABELS
    metrics = tempo["tracesToMetrics"]
    assert metrics["datasourceUid"] == "prometheus"
    assert metrics["queries"] and all("{$__tags}" in q["query"] for q in metrics["queries"])
    assert tempo["serviceMap"]["datasourceUid"] == "prometheus"
    assert tempo["nodeGraph"]["enabled"] is True


def test_prometheus_time_interval_is_the_scrape_interval():
    prometheus_yml = REPO / "prometheus" / "prometheus.yml"
    assert prometheus_yml.is_file(), "prometheus/prometheus.yml is missing"
    scrape = yaml.safe_load(prometheus_yml.read_text(encoding="utf-8"))["global"]
    assert datasources()["prometheus"]["jsonData"]["timeInterval"] == scrape["scrape_interval"]


@pytest.mark.parametrize("path", [DATASOURCES_FILE, PROVIDER_FILE], ids=lambda p: p.name)
def test_provisioning_dollars_are_escaped(path):
    # Grafana may look up nothing but the .env ports; an unescaped ${__value.raw} would be
    # looked up too, and silently become "".
    looked_up = set()
    provisioned(path, looked_up=looked_up)
    allowed = {port for port, _ in COMPONENTS.values()} if path == DATASOURCES_FILE else set()
    assert looked_up <= allowed, f"{path.name} interpolates {sorted(looked_up - allowed)}"


def test_escaping_model_matches_grafana():
    assert grafana_interpolate("$${__value.raw}", lambda n: "X") == "${__value.raw}"
    assert grafana_interpolate("${__value.raw}", lambda n: "") == ""
    assert grafana_interpolate("{$$__tags}", lambda n: "X") == "{$__tags}"
    assert grafana_interpolate("$HOME/x", lambda n: "/h") == "/h/x"
    assert grafana_interpolate("cost $ 5", lambda n: "X") == "cost $ 5"


# ------------------------------------------------------------------------ dashboards provider


def container_mounts(service: dict) -> list[tuple[Path, str]]:
    """(host path, container path) of the service's bind mounts."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
        else:
            source, target = volume.get("source", ""), volume.get("target", "")
        if source.startswith((".", "/")):
            mounts.append(((REPO / source).resolve(), target))
    return mounts


def in_container(host_path: Path, mounts) -> str | None:
    for source, target in sorted(mounts, key=lambda m: len(str(m[0])), reverse=True):
        if host_path == source or source in host_path.parents:
            return target.rstrip("/") + "/" + str(host_path.relative_to(source)).strip(".")
    return None


def test_provider_puts_the_dashboards_in_the_marketplace_folder():
    providers = provisioned(PROVIDER_FILE)["providers"]
    assert len(providers) == 1
    provider = providers[0]
    assert provider["type"] == "file" and provider["folder"] == "Marketplace"
    assert not provider["options"].get("foldersFromFilesStructure")
    assert provider["options"]["path"].startswith("/")


def test_provider_path_is_where_compose_mounts_the_dashboards():
    compose_file = REPO / "compose.yaml"
    assert compose_file.is_file(), "compose.yaml is missing: the mount cannot be compared"
    compose = yaml.safe_load(compose_file.read_text(encoding="utf-8"))
    grafana = compose["services"]["grafana"]
    mounts = container_mounts(grafana)
    path = provisioned(PROVIDER_FILE)["providers"][0]["options"]["path"].rstrip("/")
    assert in_container(GRAFANA / "dashboards", mounts).rstrip("/") == path
    root = grafana_environment(grafana).get("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning")
    for kind, file in [("datasources", DATASOURCES_FILE), ("dashboards", PROVIDER_FILE)]:
        assert in_container(file, mounts) == f"{root.rstrip('/')}/{kind}/{file.name}"


def grafana_environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    return dict(item.split("=", 1) for item in env) if isinstance(env, list) else env


def test_compose_gives_grafana_the_ports_its_datasources_read():
    compose_file = REPO / "compose.yaml"
    assert compose_file.is_file(), "compose.yaml is missing: the environment cannot be compared"
    grafana = yaml.safe_load(compose_file.read_text(encoding="utf-8"))["services"]["grafana"]
    env = grafana_environment(grafana)
    missing = {name for name in port_variables() if env.get(name) != f"${{{name}}}"}
    assert not missing, f"compose.yaml grafana.environment lacks {sorted(missing)} (from .env)"


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
