"""Quiet when healthy (issue 12, section 1): a fresh native stack under the default load, which no
test touches, raises nothing for v2 over the whole accelerated run, not even a pending alert (but
for a few seconds of missed scrapes, `missed_scrapes`), and fires nothing else except what
docs/alerting.md lists as expected on a healthy stack.

The list is read from docs/alerting.md at test time: the alert names in its section whose heading
says "expected" (the Watchdog and the v1 alerts that fire by design). An alert named on a line
that also names v2 is allowed for v2; every other name there is allowed for v1 and for series
without a version (the Watchdog).
"""

from __future__ import annotations

import re
import time

import pytest
from figures import record
from livestack import LiveStack, wait_for

from ops.stack import topology

pytestmark = pytest.mark.integration

ALERTING_DOC = topology.REPO_ROOT / "docs" / "alerting.md"
# Longer than every rate window of the short tiers (5m) and every `for` up to 5m, so that a cold
# start has had the time to raise whatever it would. A full `make test` runs longer than this.
MIN_AGE_SECONDS = 420
# Production scrapes (prometheus/prometheus.yml) wait far longer than this stack's (INTERVAL).
MISSED_SCRAPE_SECONDS = 5
ALERT_NAME = re.compile(r"\b(Watchdog|Marketplace[A-Za-z]+)\b")
HEADING = re.compile(r"^(#+)\s+(.*)$")


def missed_scrapes(key: tuple[str, str, str], seconds: int) -> bool:
    """MarketplaceDown pending for a few evaluations: scrapes that outlasted this stack's scrape
    timeout (livestack.INTERVAL) on a saturated machine (seen once for v2 in a CI run, with three
    background stacks on 2 cores; docs/alerting.md). A scrape that fails for the alert's minute
    fires."""
    name, _, state = key
    return name == "MarketplaceDown" and state == "pending" and seconds <= MISSED_SCRAPE_SECONDS


def expected_alerts(text: str) -> dict[str, set[str]]:
    """{"v2": names allowed for v2, "other": names allowed for v1 or with no version}."""
    allowed: dict[str, set[str]] = {"v2": set(), "other": set()}
    level = None
    found = False
    for line in text.splitlines():
        heading = HEADING.match(line)
        if heading:
            depth = len(heading.group(1))
            if level is not None and depth <= level:
                level = None
            if level is None and "expected" in heading.group(2).lower():
                level, found = depth, True
            continue
        if level is None:
            continue
        names = set(ALERT_NAME.findall(line))
        allowed["v2" if re.search(r"\bv2\b", line) else "other"] |= names
    if not found:
        raise AssertionError(f"{ALERTING_DOC}: no section whose heading says 'expected'")
    return allowed


def test_expected_alerts_are_read_from_the_sections_that_say_so():
    doc = (
        "# Alerting\nMarketplaceDown pages.\n## Expected on a healthy stack\n"
        "- Watchdog, always.\n- v1: MarketplaceHighSearchLatency by design.\n"
        "### detail\nMarketplaceCriticalLatency for v1.\n"
        "## Routing\nMarketplaceHighErrorRate\n"
    )
    assert expected_alerts(doc) == {
        "v2": set(),
        "other": {"Watchdog", "MarketplaceHighSearchLatency", "MarketplaceCriticalLatency"},
    }
    with pytest.raises(AssertionError):
        expected_alerts("# Alerting\nWatchdog\n")


def test_only_a_few_seconds_of_a_pending_down_alert_pass_as_missed_scrapes():
    assert missed_scrapes(("MarketplaceDown", "v2", "pending"), MISSED_SCRAPE_SECONDS)
    assert not missed_scrapes(("MarketplaceDown", "v2", "pending"), MISSED_SCRAPE_SECONDS + 1)
    assert not missed_scrapes(("MarketplaceDown", "v2", "firing"), 1)
    assert not missed_scrapes(("MarketplaceLowCacheHitRate", "v2", "pending"), 1)


def test_a_fresh_stack_under_the_default_load_raises_nothing_for_v2_over_the_whole_run(
    quiet_stack: LiveStack, request
):
    # Prometheus starts last of the stack and holds every ALERTS sample since.
    started = quiet_stack.value('process_start_time_seconds{job="prometheus"}')
    assert started, "Prometheus has not scraped itself"
    wait_for(
        lambda: time.time() - started >= MIN_AGE_SECONDS,
        MIN_AGE_SECONDS + 60,
        f"the quiet stack to be {MIN_AGE_SECONDS}s old",
        interval=5,
    )
    age = int(time.time() - started)
    # Every ALERTS series of the stack's life, with the seconds it was pending or firing.
    seen: dict[tuple[str, str, str], int] = {}
    for series in quiet_stack.query(f"count_over_time(ALERTS[{age}s])"):
        labels = series["metric"]
        key = (labels["alertname"], labels.get("version", ""), labels["alertstate"])
        seen[key] = int(float(series["value"][1]))
    notified = {name for entry in quiet_stack.notifications() for name in entry["alertnames"]}
    record(
        request.config,
        "quiet stack",
        age_s=age,
        alerts={f"{n}{{version={v or '-'}}} {s}": secs for (n, v, s), secs in sorted(seen.items())},
        notified=sorted(notified),
    )
    allowed = expected_alerts(ALERTING_DOC.read_text(encoding="utf-8"))

    v2 = {
        key
        for key, seconds in seen.items()
        if key[1] == "v2" and key[0] not in allowed["v2"] and not missed_scrapes(key, seconds)
    }
    assert v2 == set(), f"v2 raised alerts on a healthy stack: {v2}"
    # Elsewhere only what fires counts: v1's scrape may time out once on a busy machine (1 s
    # scrape timeout here) and go pending for a few seconds, which pages nobody.
    others = {
        key
        for key in seen
        if key[1] != "v2" and key[2] == "firing" and key[0] not in allowed["other"]
    }
    assert others == set(), f"alerts docs/alerting.md does not list as expected: {others}"
    assert ("Watchdog", "", "firing") in seen, "the Watchdog must fire all along"
    assert notified <= allowed["other"] | allowed["v2"], notified
