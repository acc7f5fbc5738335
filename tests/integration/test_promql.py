"""Every PromQL expression of the dashboards and rules runs against the live Prometheus (item 5).

Dashboard expressions are taken from every panel target whose datasource is Prometheus, with
Grafana's template variables substituted; each must parse and return finite data for v1 and v2
once traffic flows (NaN, 0/0, is no data). A dashboard with no expressions at all fails. Every
rule expression must parse; every alert's expression, its thresholds stripped, must return finite
data for both versions: its inputs exist while nothing is wrong. The exceptions (v1 has no cache)
are listed in exprcheck.py and must be NaN or absent. Recording rules: test_native_stack.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from exprcheck import (
    PARTLY_NAN_PANELS,
    UNVERSIONED_ALERTS,
    V1_NAN_ALERTS,
    V1_NAN_PANELS,
    VERSIONS,
    finite_gaps,
    strip_thresholds,
)
from livestack import DASHBOARDS_DIR, LiveStack, rules

from ops.polling import polls
from tests.contract.grafanafiles import panels

pytestmark = pytest.mark.integration

DASHBOARDS = sorted(DASHBOARDS_DIR.glob("*.json"))
# Grafana's built-in variables, at values that suit a 1s-scrape stack a few minutes old.
BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "5m",
    "__range_s": "300",
    "__range_ms": "300000",
    "__auto": "1m",
}
_VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)")


def datasource_type(ref, variables: dict[str, dict]) -> str | None:
    if isinstance(ref, dict):
        kind, uid = ref.get("type"), ref.get("uid")
    else:
        kind, uid = None, ref
    if isinstance(uid, str) and uid.startswith("$"):
        var = variables.get(uid.strip("${}"))
        return (var or {}).get("query") or kind
    return kind or uid


def expressions(dashboard: dict) -> tuple[list[tuple[str, str]], int]:
    """([(panel title, PromQL expression)], count of expressions of any datasource)."""
    variables = {v["name"]: v for v in dashboard.get("templating", {}).get("list", [])}
    promql, total = [], 0
    for panel in panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            expr = target.get("expr") or target.get("query")
            if not expr or target.get("hide"):
                continue
            total += 1
            ref = target.get("datasource") or panel.get("datasource")
            if datasource_type(ref, variables) in ("prometheus", None):
                promql.append((panel.get("title", ""), expr))
    return promql, total


def variable_values(live: LiveStack, variable: dict) -> list[str]:
    kind, query = variable.get("type"), variable.get("query")
    if isinstance(query, dict):
        query = query.get("query")
    if kind == "query" and isinstance(query, str):
        found = re.match(r"label_values\((?:(.+),)?\s*(\w+)\s*\)$", query.strip())
        if found:
            metric, label = found.group(1), found.group(2)
            expr = (
                f"group by ({label}) ({metric})"
                if metric
                else f'group by ({label}) ({{{label}!=""}})'
            )
            return sorted({s["metric"][label] for s in live.query(expr) if label in s["metric"]})
    if kind in ("custom", "interval") and isinstance(query, str):
        return [part.strip() for part in query.split(",") if part.strip()]
    current = (variable.get("current") or {}).get("value")
    return current if isinstance(current, list) else [current or query or ""]


def substitute(expr: str, values: dict[str, str]) -> str:
    def repl(match: re.Match) -> str:
        name = match.group(1) or match.group(2) or match.group(3)
        if name not in values:
            raise KeyError(f"unknown template variable ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(repl, expr)


class NoValues(AssertionError):
    """A template variable has no values on the live stack (yet: before the first scrape)."""


def template_values(live: LiveStack, dashboard: dict) -> dict[str, str]:
    values = dict(BUILTINS)
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") == "datasource":
            values[variable["name"]] = variable.get("query", "")
            continue
        options = variable_values(live, variable)
        if not options:
            raise NoValues(f"template variable {variable['name']} has no values on the live stack")
        multi = variable.get("multi") or variable.get("includeAll")
        # Grafana writes a multi-value or All selection for Prometheus as a regex alternation.
        values[variable["name"]] = "(" + "|".join(options) + ")" if multi else options[0]
    return values


def gaps_of(series: list[dict], key: tuple[str, str], v1_nan: frozenset, partly: bool = False):
    """finite_gaps for one expression; a result without any `version` label counts as one."""
    unversioned = series and all("version" not in item["metric"] for item in series)
    nan_for = {"v1"} if key in v1_nan else set()
    versions = (None,) if unversioned else VERSIONS
    return finite_gaps(series, versions, nan_for=nan_for, partly_nan=partly)


def _has_promql(path: Path) -> bool:
    return bool(expressions(json.loads(path.read_text()))[0])


# The Logs dashboard is LogQL only: its queries run against Loki in tests/stack/test_logql.py,
# and tests/contract/test_promtail.py checks that every one of its panels targets Loki.
PROMQL_DASHBOARDS = [path for path in DASHBOARDS if _has_promql(path)]


def test_a_dashboard_left_out_here_has_queries_but_none_in_promql():
    assert len(PROMQL_DASHBOARDS) >= 2  # the SLO and the comparison dashboards
    for path in sorted(set(DASHBOARDS) - set(PROMQL_DASHBOARDS)):
        promql, total = expressions(json.loads(path.read_text()))
        assert total > 0 and not promql, f"{path.name} has no query expressions at all"


@pytest.mark.parametrize("path", PROMQL_DASHBOARDS, ids=[p.stem for p in PROMQL_DASHBOARDS])
def test_every_dashboard_promql_expression_returns_finite_data(native_stack, path: Path):
    dashboard = json.loads(path.read_text())
    promql, _ = expressions(dashboard)
    titles = {title for title, _ in promql}
    listed = {title for stem, title in V1_NAN_PANELS | PARTLY_NAN_PANELS if stem == path.stem}
    assert listed <= titles, f"exprcheck.py lists panels {path.name} lacks: {listed - titles}"

    # Rates over 1m need a minute of traffic; give the stack up to two.
    for _ in polls(120, 3):
        try:
            values = template_values(native_stack, dashboard)
        except NoValues as missing:  # the stack's first scrape has not happened yet
            wrong = {"template variables": str(missing)}
            continue
        wrong = {}
        for title, expr in promql:
            query = substitute(expr, values)
            series = native_stack.query(query)  # a parse error raises ValueError with the reason
            key = (path.stem, title)
            if gaps := gaps_of(series, key, V1_NAN_PANELS, key in PARTLY_NAN_PANELS):
                wrong[f"{title}: {query}"] = gaps
        if not wrong:
            break
    assert wrong == {}, f"{path.name}: expressions without finite data"


def test_every_rule_expression_parses_on_the_live_prometheus(native_stack: LiveStack):
    exprs = [r["expr"] for r in rules("alert") + rules("record")]
    assert exprs
    for expr in exprs:
        native_stack.query(expr)  # raises ValueError on bad_data (a parse error)


def test_every_alert_without_its_thresholds_returns_finite_data_for_both_versions(
    native_stack: LiveStack,
):
    alerts = rules("alert")
    names = {rule["alert"] for rule in alerts}
    listed = V1_NAN_ALERTS | UNVERSIONED_ALERTS
    assert listed <= names, f"exprcheck.py lists alerts that do not exist: {listed - names}"

    def gaps() -> dict[str, list[str]]:
        found = {}
        for rule in alerts:
            query = strip_thresholds(rule["expr"])
            versions = (None,) if rule["alert"] in UNVERSIONED_ALERTS else VERSIONS
            nan_for = {"v1"} if rule["alert"] in V1_NAN_ALERTS else set()
            wrong = finite_gaps(native_stack.query(query), versions, nan_for=nan_for)
            if wrong:
                found[f"{rule['alert']}: {query}"] = wrong
        return found

    # The 5m rates need two scrapes of traffic; the budget burns, their recording rules.
    for _ in polls(120, 3):
        wrong = gaps()
        if not wrong:
            break
    assert wrong == {}
