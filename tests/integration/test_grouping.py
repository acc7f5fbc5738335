"""Pages on time (issue 12 §3): with v1's alert firing, v2's alert of the same name is notified
after group_wait, not held in v1's open group until its next group_interval flush.

v1's latency alerts fire by design under the default load, so this is the normal state of the
stack when v2 breaks. The test runs on a native stack of its own (real Alertmanager and alert sink)
whose route timings make the two outcomes far apart: group_wait 1s against group_interval 30s.
The alerts are posted to Alertmanager's API with the labels Prometheus gives the rule (its own
labels plus the target's version and instance), so only Alertmanager's grouping is timed. A
control run on the same Alertmanager, reloaded with the seed's group_by (no version), shows that
the measurement tells the two apart.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from livestack import LiveStack, rules, running, stack_on_free_ports, wait_for

pytestmark = pytest.mark.integration

GROUP_WAIT, GROUP_INTERVAL = 1, 30
TIMINGS = {
    "group_wait": f"{GROUP_WAIT}s",
    "group_interval": f"{GROUP_INTERVAL}s",
    "repeat_interval": "1h",
}
# v2's alert arrives this long after v1's group flushed: a group_interval tick is then
# GROUP_INTERVAL - JOIN_AFTER away, a new group's first flush GROUP_WAIT away.
JOIN_AFTER = 10
RECEIVER = "marketplace-team"  # where a warning of the marketplace goes


@pytest.fixture(scope="module")
def grouping_stack(tmp_path_factory) -> LiveStack:
    stack = stack_on_free_ports(
        tmp_path_factory.mktemp("grouping"),
        route_timings=TIMINGS,
        loadgen_rate=0.5,
        loadgen_targets=("marketplace-v2",),
    )
    with running(stack) as live:
        yield live


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _post(live: LiveStack, alertname: str, version: str) -> float:
    """Post the rule's alert for one version as Prometheus would; the Unix time it was posted."""
    [rule] = [r for r in rules("alert") if r["alert"] == alertname]
    labels = {
        "alertname": alertname,
        **rule["labels"],
        "version": version,
        "instance": f"marketplace-{version}:8000",
        "job": "marketplace",
    }
    annotations = {
        key: text.replace("{{ $labels.version }}", version).replace(
            "{{ $value | humanizeDuration }}", "300ms"
        )
        for key, text in rule["annotations"].items()
    }
    now = datetime.now(UTC)
    alert = {
        "labels": labels,
        "annotations": annotations,
        "startsAt": _stamp(now),
        "endsAt": _stamp(now + timedelta(minutes=10)),
        "generatorURL": "http://prometheus:9090/graph",
    }
    response = live.http.post(
        live.urls["alertmanager"] + "/api/v2/alerts", json=[alert], timeout=10
    )
    response.raise_for_status()
    return now.timestamp()


def _notified(live: LiveStack, alertname: str, version: str, since: float) -> float:
    """When the sink first received a firing notification of this alert naming this version."""

    def probe() -> float | None:
        for entry in live.notifications(receiver=RECEIVER, alertname=alertname, status="firing"):
            received = datetime.fromisoformat(
                entry["received_at"].replace("Z", "+00:00")
            ).timestamp()
            if received >= since - 1 and f"on {version}" in str(entry["payload"]):
                return received
        return None

    return wait_for(
        probe, GROUP_INTERVAL * 3, f"{alertname} {version} at {RECEIVER}", interval=0.25
    )


def _v2_delay_with_v1_firing(live: LiveStack, alertname: str) -> float:
    """Seconds from posting v2's alert to its notification, posted JOIN_AFTER s after v1's."""
    v1_notified = _notified(live, alertname, "v1", _post(live, alertname, "v1"))
    time.sleep(max(0.0, v1_notified + JOIN_AFTER - time.time()))
    posted = _post(live, alertname, "v2")
    return _notified(live, alertname, "v2", posted) - posted


def test_v2s_alert_is_notified_after_group_wait_while_v1s_of_the_same_name_fires(grouping_stack):
    delay = _v2_delay_with_v1_firing(grouping_stack, "MarketplaceHighSearchLatency")
    print(f"v2 notified {delay:.1f}s after it reached Alertmanager (group_wait {GROUP_WAIT}s)")
    # v1's next flush is GROUP_INTERVAL - JOIN_AFTER (20 s) away; a group of its own flushes
    # after group_wait. Half-way between the two leaves room for a loaded machine.
    assert delay < (GROUP_WAIT + GROUP_INTERVAL - JOIN_AFTER) / 2


def test_without_version_in_group_by_v2s_alert_waits_for_v1s_next_flush(grouping_stack):
    # The control: the same Alertmanager with the seed's group_by holds v2 in v1's group.
    config_file = grouping_stack.stack.run_dir / "alertmanager.yml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    assert "version" in config["route"]["group_by"]
    config["route"]["group_by"] = ["alertname", "component"]
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    reload = grouping_stack.http.post(grouping_stack.urls["alertmanager"] + "/-/reload", timeout=10)
    assert reload.status_code == 200, reload.text
    # a name no group has yet, routed to the same receiver
    delay = _v2_delay_with_v1_firing(grouping_stack, "MarketplaceSlowRDFQueries")
    print(f"control: v2 notified {delay:.1f}s after it reached Alertmanager")
    assert delay >= (GROUP_WAIT + GROUP_INTERVAL - JOIN_AFTER) / 2
