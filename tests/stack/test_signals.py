"""Signals flowing through the running stack: targets, logs, traces, exemplars, the Watchdog.

The load generator keeps traffic on both variants, so each check waits (bounded) for data.
"""

from __future__ import annotations

import re
import time

import pytest
import requests
from stackwait import eventually

pytestmark = pytest.mark.stack

TRACE_ID = re.compile(r"[0-9a-f]{32}")
WINDOW_SECONDS = 30 * 60


def _window() -> dict[str, int]:
    now = int(time.time())
    return {"start": now - WINDOW_SECONDS, "end": now}


def _loki(url, query: str, limit: int = 50) -> list[dict]:
    window = _window()
    response = requests.get(
        url("loki") + "/loki/api/v1/query_range",
        params={
            "query": query,
            "limit": limit,
            "start": window["start"] * 10**9,
            "end": window["end"] * 10**9,
            "direction": "backward",
        },
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["data"]["result"]


def _tempo_search(url, traceql: str) -> list[dict]:
    response = requests.get(
        url("tempo") + "/api/search",
        params={"q": traceql, "limit": 20, **_window()},
        timeout=30,
    )
    response.raise_for_status()
    return response.json().get("traces") or []


def _tempo_trace(url, trace_id: str) -> dict | None:
    response = requests.get(url("tempo") + f"/api/traces/{trace_id}", timeout=30)
    if response.status_code == 404:
        return None
    response.raise_for_status()
    return response.json()


def _span_count(trace: dict) -> int:
    batches = trace.get("batches") or trace.get("resourceSpans") or []
    return sum(
        len(scope.get("spans", []))
        for batch in batches
        for scope in batch.get("scopeSpans") or batch.get("instrumentationLibrarySpans") or []
    )


def test_every_prometheus_target_is_up(url):
    def all_up():
        response = requests.get(url("prometheus") + "/api/v1/targets", timeout=10)
        response.raise_for_status()
        targets = response.json()["data"]["activeTargets"]
        down = [
            f"{t['labels'].get('job')}/{t['labels'].get('instance')}: {t.get('lastError')}"
            for t in targets
            if t["health"] != "up"
        ]
        assert targets and not down, down
        return targets

    targets = eventually(all_up, timeout=120, what="all Prometheus targets up")
    jobs = {t["labels"]["job"] for t in targets}
    assert {"marketplace", "otel-collector", "loki", "tempo", "promtail", "grafana"} <= jobs


def test_loki_has_marketplace_lines_carrying_trace_ids(url):
    def streams():
        return _loki(url, '{job="marketplace"} | trace_id != ""')

    result = eventually(streams, timeout=120, what="marketplace log lines with trace_id in Loki")
    versions = set()
    for stream in result:
        labels = stream["stream"]
        assert labels["service"] == "marketplace"
        assert labels["level"]
        versions.add(labels["version"])
        assert TRACE_ID.fullmatch(labels["trace_id"]), labels
    assert versions, result[:1]


def test_loki_indexes_only_the_bounded_labels(url):
    response = requests.get(url("loki") + "/loki/api/v1/labels", params=_window(), timeout=30)
    response.raise_for_status()
    labels = set(response.json().get("data") or [])
    assert {"job", "service", "version", "level"} <= labels
    # trace_id is structured metadata and query never becomes a label.
    assert not labels & {"trace_id", "query", "error"}, labels


@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_tempo_has_traces_of_each_variant(variant, url):
    query = f'{{resource.service.name="marketplace" && resource.marketplace.variant="{variant}"}}'
    traces = eventually(
        lambda: _tempo_search(url, query), timeout=120, what=f"{variant} traces in Tempo"
    )
    assert all(TRACE_ID.fullmatch(t["traceID"].rjust(32, "0")) for t in traces)


def _exemplar_trace_ids(url) -> list[str]:
    response = requests.get(
        url("prometheus") + "/api/v1/query_exemplars",
        params={"query": "marketplace_search_duration_seconds_bucket", **_window()},
        timeout=30,
    )
    response.raise_for_status()
    ids = [
        exemplar["labels"]["trace_id"]
        for series in response.json()["data"]
        for exemplar in series["exemplars"]
        if "trace_id" in exemplar["labels"]
    ]
    # Newest first: the older ones may already be out of the Loki query window.
    return list(reversed(ids))


def test_exemplar_trace_is_found_in_tempo_and_in_loki(url):
    """The full round trip: a panel's exemplar -> its trace in Tempo -> its log lines in Loki."""
    trace_ids = eventually(
        lambda: _exemplar_trace_ids(url), timeout=120, what="exemplars with trace_id"
    )
    assert all(TRACE_ID.fullmatch(t) for t in trace_ids), trace_ids[:3]

    def found_everywhere():
        for trace_id in trace_ids[:5]:
            trace = _tempo_trace(url, trace_id)
            if not trace or not _span_count(trace):
                continue
            lines = _loki(url, f'{{job="marketplace"}} | trace_id="{trace_id}"')
            if lines:
                return trace_id, trace, lines
        return None

    trace_id, trace, lines = eventually(
        found_everywhere, timeout=120, what="an exemplar's trace in Tempo and Loki"
    )
    assert _span_count(trace) >= 1
    assert all(stream["stream"]["trace_id"] == trace_id for stream in lines)


def test_watchdog_reaches_the_sink(url):
    def delivered():
        response = requests.get(
            url("alertsink") + "/api/notifications", params={"alertname": "Watchdog"}, timeout=10
        )
        response.raise_for_status()
        return [n for n in response.json() if "Watchdog" in n["alertnames"]]

    notifications = eventually(delivered, timeout=180, interval=5, what="Watchdog at the sink")
    assert notifications[-1]["status"] == "firing"
    assert notifications[-1]["receiver"] == "watchdog"
