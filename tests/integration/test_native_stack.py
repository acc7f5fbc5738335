"""The native stack's Prometheus and Alertmanager, on the repo's own configs (items 1, 2, 3, 6).

Every scrape target is up, every rule file loads and evaluates cleanly with every alert present,
every recording rule has a value per variant, the Watchdog reaches its receiver, and Prometheus
keeps its data across a restart.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from contextlib import suppress

import pytest
import yaml
from exprcheck import V1_NAN_RECORDS, VERSIONS, finite_gaps
from livestack import LiveStack, rule_files, rules, wait_for
from outages import restart_figure, stored_samples

from ops.polling import polls
from ops.stack import topology
from ops.stack.procs import tail
from ops.stack.render import ALERTMANAGER_DIR

pytestmark = pytest.mark.integration

CONSTANT = re.compile(r"^\s*vector\(\s*[-+0-9.eE]+\s*\)\s*$")
KINDS = {"slack_configs": "slack", "pagerduty_configs": "pagerduty", "webhook_configs": "webhook"}


def selector(rule: dict) -> str:
    labels = ", ".join(f'{k}="{v}"' for k, v in sorted((rule.get("labels") or {}).items()))
    return f"{rule['record']}{{{labels}}}"


def receiver_kinds(name: str) -> set[str]:
    config = yaml.safe_load((ALERTMANAGER_DIR / "alertmanager.yml").read_text())
    [receiver] = [r for r in config["receivers"] if r["name"] == name]
    return {kind for key, kind in KINDS.items() if receiver.get(key)}


def test_every_scrape_target_is_up_and_docker_only_jobs_are_not_scraped(native_stack: LiveStack):
    def all_up():
        targets = native_stack.prom("/api/v1/targets", state="active")["activeTargets"]
        return targets if targets and all(t["health"] == "up" for t in targets) else None

    targets = wait_for(all_up, 60, "every active target up")

    jobs = Counter(t["labels"]["job"] for t in targets)
    assert jobs == {"marketplace": 2, "prometheus": 1, "alertmanager": 1, "alertsink": 1}
    assert not set(jobs) & set(topology.DOCKER_ONLY)
    versions = {t["labels"].get("version") for t in targets if t["labels"]["job"] == "marketplace"}
    assert versions == {"v1", "v2"}
    assert all(t["scrapeUrl"].startswith("http://127.0.0.1:") for t in targets)


def test_every_rule_group_loads_and_evaluates_without_errors(native_stack: LiveStack):
    expected_groups = {
        (str(path), group["name"])
        for path in rule_files()
        for group in yaml.safe_load(path.read_text())["groups"]
    }

    def evaluated():
        groups = native_stack.prom("/api/v1/rules")["groups"]
        rules_ = [r for g in groups for r in g["rules"]]
        done = all(not r["lastEvaluation"].startswith("0001") for r in rules_)
        return groups if done and rules_ else None

    groups = wait_for(evaluated, 30, "every rule evaluated at least once")

    assert {(g["file"], g["name"]) for g in groups} == expected_groups
    unhealthy = [
        (r["name"], r.get("lastError")) for g in groups for r in g["rules"] if r["health"] != "ok"
    ]
    assert unhealthy == []


def test_every_alert_rule_is_present_with_its_for_duration(native_stack: LiveStack):
    groups = native_stack.prom("/api/v1/rules", type="alert")["groups"]
    loaded = Counter((r["name"], r["duration"]) for g in groups for r in g["rules"])
    seconds = {"s": 1, "m": 60, "h": 3600}
    committed = Counter(
        (r["alert"], int(r["for"][:-1]) * seconds[r["for"][-1]] if "for" in r else 0)
        for r in rules("alert")
    )
    assert loaded == committed
    assert {"MarketplaceDown", "MarketplaceHighErrorRate", "Watchdog"} <= {n for n, _ in loaded}


def test_after_traffic_every_recording_rule_has_a_finite_value_for_both_versions(native_stack):
    recording = rules("record")
    assert recording, "no recording rules in prometheus/rules"
    keys = {(rule["record"], (rule.get("labels") or {}).get("slo")) for rule in recording}
    assert not V1_NAN_RECORDS - keys, f"allow-list names unknown rules: {V1_NAN_RECORDS - keys}"

    def gaps() -> dict[str, list[str]]:
        found = {}
        for rule in recording:
            key = (rule["record"], (rule.get("labels") or {}).get("slo"))
            versions = (None,) if CONSTANT.match(rule["expr"]) else VERSIONS
            nan_for = {"v1"} if key in V1_NAN_RECORDS else set()
            wrong = finite_gaps(native_stack.query(selector(rule)), versions, nan_for=nan_for)
            if wrong:
                found[selector(rule)] = wrong
        return found

    # Rates need two scrapes of traffic; the 5m windows fill from the first ones. NaN (0/0) is
    # no value: only v1's cache ratios may be NaN (or absent), and they must be.
    for _ in polls(120, 2):
        wrong = gaps()
        if not wrong:
            break
    assert wrong == {}


def test_each_marketplace_variant_writes_its_json_log_file(native_stack: LiveStack):
    def searches_logged(name: str) -> list[dict]:
        # The first line of a tail may be cut anywhere: skip what does not parse.
        records = []
        for line in tail(native_stack.stack.json_log_file(name), 200).splitlines():
            with suppress(ValueError):
                records.append(json.loads(line))
        searches = [r for r in records if isinstance(r, dict)]
        return [r for r in searches if r.get("message") == "Search completed"]

    for name in ("marketplace-v1", "marketplace-v2"):
        records = wait_for(lambda name=name: searches_logged(name), 60, f"{name}'s JSON log")
        assert {r["variant"] for r in records} == {name.removeprefix("marketplace-")}
        assert all(r["service"] == "marketplace" for r in records)


def test_watchdog_travels_through_alertmanager_to_its_receiver(native_stack: LiveStack):
    kinds = receiver_kinds("watchdog")
    assert kinds, "the watchdog receiver has no notifier"

    def arrived():
        entries = native_stack.notifications(alertname="Watchdog")
        return entries if {e["kind"] for e in entries} >= kinds else None

    entries = wait_for(arrived, 90, "Watchdog notifications at the sink")

    assert {e["receiver"] for e in entries} == {"watchdog"}
    assert {e["status"] for e in entries} == {"firing"}
    if "webhook" in kinds:
        [alert] = next(e for e in entries if e["kind"] == "webhook")["payload"]["alerts"]
        assert alert["labels"]["alertname"] == "Watchdog"
        assert alert["labels"]["severity"] == "none"


def test_prometheus_keeps_its_data_across_a_restart(stack: LiveStack, request):
    wait_for(
        # Most of the window, not the first scrape: `at` below must fall after both first scrapes.
        lambda: (
            (stack.value('count_over_time(up{job="marketplace", version="v2"}[15s])') or 0) >= 10
        ),
        60,
        "15s of v2 scrapes",
    )
    at = time.time() - 1
    expr = 'count_over_time(up{job="marketplace"}[15s])'
    before = {s["metric"]["version"]: s["value"][1] for s in stack.query(expr, at=at)}
    assert set(before) == {"v1", "v2"}
    stored = stored_samples(stack, at)

    took = stack.restart("prometheus")

    after = {s["metric"]["version"]: s["value"][1] for s in stack.query(expr, at=at)}
    assert after == before
    figure = restart_figure(stack, request.config, at, stored, took)  # printed, .run/*.json
    assert figure["samples_after"] == figure["samples_before"]
