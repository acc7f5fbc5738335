"""The Grafana files as Grafana reads them, for the contract tests: provisioning values through
Grafana's env interpolation (`$$` is a literal `$`), the dashboards and their panels, and the
metric names a PromQL expression uses.
"""

import json
import re
from pathlib import Path

import yaml

from ops import rulefiles
from ops.stack.topology import load_env

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


def panels(items: list[dict]):
    """Every panel of a panel list and of the rows in it, depth first: the one dashboard walker
    (tests elsewhere import it from tests.contract.grafanafiles)."""
    for panel in items:
        yield panel
        yield from panels(panel.get("panels", []))


def all_panels(dashboard):
    yield from panels(dashboard.get("panels", []))


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
    """The provisioned datasources by uid, as Grafana reads them: the one datasource loader."""
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
    for _, _, rule in rulefiles.rules():
        yield rule


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
