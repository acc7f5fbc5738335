"""Grafana in the running stack: healthy, datasources answer, dashboards there, Viewer only."""

from __future__ import annotations

import pytest
import requests
from stackwait import eventually

pytestmark = pytest.mark.stack

DATASOURCES = ("prometheus", "loki", "tempo", "alertmanager")
DASHBOARDS = {
    "marketplace-slo": "Marketplace V2 - Production SLOs",
    "marketplace-compare": "Marketplace V1 vs V2 Comparison",
    "marketplace-logs": "Marketplace Logs",
}


def test_grafana_is_healthy(url):
    response = requests.get(url("grafana") + "/api/health", timeout=10)
    assert response.status_code == 200
    assert response.json()["database"] == "ok"


@pytest.mark.parametrize("uid", DATASOURCES)
def test_datasource_is_provisioned_and_healthy(uid, url, grafana_admin):
    base = url("grafana")
    datasource = requests.get(f"{base}/api/datasources/uid/{uid}", auth=grafana_admin, timeout=10)
    assert datasource.status_code == 200, f"datasource {uid} is not provisioned"

    def healthy():
        response = requests.get(
            f"{base}/api/datasources/uid/{uid}/health", auth=grafana_admin, timeout=30
        )
        if response.status_code == 200:
            return response.json().get("status") == "OK"
        # Plugins without a backend health check (the Alertmanager datasource) are probed
        # through Grafana's proxy instead, which is what their "Save & test" does.
        if uid == "alertmanager":
            proxied = requests.get(
                f"{base}/api/datasources/proxy/uid/{uid}/api/v2/status",
                auth=grafana_admin,
                timeout=30,
            )
            return proxied.status_code == 200 and "config" in proxied.json()
        raise AssertionError(f"{response.status_code}: {response.text[:300]}")

    eventually(healthy, timeout=60, what=f"datasource {uid} health")


def test_the_three_dashboards_are_provisioned_in_a_folder(url):
    # Anonymous Viewer access is enough to list and read them.
    response = requests.get(url("grafana") + "/api/search", params={"type": "dash-db"}, timeout=10)
    assert response.status_code == 200
    found = {item["uid"]: item for item in response.json()}
    for uid, title in DASHBOARDS.items():
        assert uid in found, f"dashboard {uid} missing (have {sorted(found)})"
        assert found[uid]["title"] == title
        assert found[uid].get("folderUid") or found[uid].get("folderTitle"), (
            f"{uid} not in a folder"
        )


def test_anonymous_visitors_can_read_but_not_write(url):
    base = url("grafana")
    read = requests.get(f"{base}/api/dashboards/uid/marketplace-slo", timeout=10)
    assert read.status_code == 200
    write = requests.post(
        f"{base}/api/dashboards/db",
        json={"dashboard": {"title": "anonymous write probe", "panels": []}, "overwrite": False},
        timeout=10,
    )
    assert write.status_code in (401, 403), write.status_code
