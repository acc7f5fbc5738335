"""The Logs dashboard's LogQL, executed by the running Loki (the native stack has no Loki, so
this runs only here; tests/contract/test_promtail.py checks the queries' labels and datasource).

Every query must be accepted (a parse error is a 400), and the queries that the load
generator's traffic always satisfies must return data: v1 never hits a cache, so cache misses
exist, and every search matches the `.*` pattern.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pytest
import requests
from stackwait import eventually

pytestmark = pytest.mark.stack

DASHBOARD = Path(__file__).parents[2] / "grafana" / "dashboards" / "marketplace-logs.json"
WINDOW_SECONDS = 30 * 60
# Grafana's variables at values that select every line the load generator causes.
VALUES = {
    "version": "(v1|v2)",
    "query_pattern": ".*",
    "__range": "30m",
    "__auto": "1m",
    "__interval": "1m",
    "__rate_interval": "1m",
}
VARIABLE = re.compile(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)")
# Titles whose result the default load always makes non-empty.
ALWAYS_DATA = ("Cache misses", "Searches matching the pattern", "Query patterns")


def _targets() -> list[tuple[str, str, str]]:
    """(panel title, expression with the variables substituted, Grafana query type)."""
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    found = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = VARIABLE.sub(lambda m: VALUES[m.group(1) or m.group(2)], target["expr"])
            found.append((panel["title"], expr, target.get("queryType", "range")))
    return found


TARGETS = _targets()


def _query(url, expr: str, query_type: str) -> dict:
    now = time.time()
    if query_type == "instant":
        path, params = "/loki/api/v1/query", {"query": expr, "time": int(now * 1e9)}
    else:
        path = "/loki/api/v1/query_range"
        params = {
            "query": expr,
            "start": int((now - WINDOW_SECONDS) * 1e9),
            "end": int(now * 1e9),
            "limit": 20,
        }
    response = requests.get(url("loki") + path, params=params, timeout=30)
    assert response.status_code == 200, f"{expr}: {response.status_code} {response.text[:300]}"
    body = response.json()
    assert body["status"] == "success", body
    return body["data"]


def test_the_dashboard_has_the_specs_four_queries_and_more():
    assert len(TARGETS) >= 8
    assert all("$" not in expr for _, expr, _ in TARGETS)


@pytest.mark.parametrize(
    ("title", "expr", "query_type"), TARGETS, ids=[f"{i}-{t[0]}" for i, t in enumerate(TARGETS)]
)
def test_every_logs_panel_query_runs_on_loki(url, title, expr, query_type):
    def answered():
        data = _query(url, expr, query_type)
        if title.startswith(ALWAYS_DATA):
            return data["result"]
        return data

    eventually(answered, what=f"{title}: {expr}")
