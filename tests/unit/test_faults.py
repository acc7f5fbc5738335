"""Fault injection: the admin API's access rules, injected errors and latency."""

import pytest

pytestmark = pytest.mark.unit

CLEAR = {
    "search_latency_ms": 0.0,
    "lookup_latency_ms": 0.0,
    "rdf_latency_ms": 0.0,
    "error_rate": 0.0,
    "cache_bypass": False,
}


def test_admin_api_is_404_without_a_configured_token(make_app, auth):
    client = make_app(admin_token=None).test_client()
    for method in ("get", "put", "delete"):
        response = getattr(client, method)("/admin/faults", headers=auth, json={"error_rate": 1})
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "<token>"},
        {"Authorization": "Basic x"},
    ],
)
def test_admin_api_is_401_without_the_right_bearer(client, headers, auth, settings):
    if headers.get("Authorization") == "<token>":  # the token without the Bearer scheme
        headers = {"Authorization": settings.admin_token}
    for method in ("get", "put", "delete"):
        response = getattr(client, method)("/admin/faults", headers=headers, json={"error_rate": 1})
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert response.get_json()["error"]["code"] == "unauthorized"
    assert client.get("/admin/faults", headers=auth).get_json() == CLEAR


def test_put_merges_get_reads_delete_clears(client, auth):
    assert client.get("/admin/faults", headers=auth).get_json() == CLEAR
    client.put("/admin/faults", headers=auth, json={"error_rate": 0.5})
    body = client.put("/admin/faults", headers=auth, json={"cache_bypass": True}).get_json()
    assert body == {**CLEAR, "error_rate": 0.5, "cache_bypass": True}
    assert client.get("/admin/faults", headers=auth).get_json() == body
    assert client.delete("/admin/faults", headers=auth).get_json() == CLEAR


@pytest.mark.parametrize(
    "body",
    [
        {},
        [],
        {"error_rate": 1.5},
        {"error_rate": -0.1},
        {"error_rate": "0.5"},
        {"error_rate": True},
        {"search_latency_ms": -1},
        {"search_latency_ms": 10**9},
        {"cache_bypass": 1},
        {"unknown": 1},
    ],
)
def test_put_rejects_bad_values(client, body, auth):
    response = client.put("/admin/faults", headers=auth, json=body)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_request"
    assert client.get("/admin/faults", headers=auth).get_json() == CLEAR


def test_put_rejects_malformed_json(client, auth):
    response = client.put(
        "/admin/faults", headers=auth, data=b"{oops", content_type="application/json"
    )
    assert response.status_code == 400


def test_injected_errors_are_503_and_counted(client, registry, auth):
    client.put("/admin/faults", headers=auth, json={"error_rate": 1})
    for path in ("/api/v1/search?q=web", "/api/v1/packages/webframe"):
        response = client.get(path)
        assert response.status_code == 503
        assert response.get_json()["error"]["code"] == "injected_fault"
    assert client.post("/api/v1/packages/webframe/install").status_code == 503
    get = registry.get_sample_value
    assert get("marketplace_search_errors_total", {"error_type": "injected"}) == 1
    assert get("marketplace_search_total") == 1
    labels = {"method": "GET", "route": "/api/v1/search", "code": "503"}
    assert get("marketplace_http_requests_total", labels) == 1
    client.delete("/admin/faults", headers=auth)
    assert client.get("/api/v1/search?q=web").status_code == 200


def test_injected_latency_shows_in_the_histograms(client, registry, auth):
    client.put(
        "/admin/faults",
        headers=auth,
        json={"search_latency_ms": 120, "lookup_latency_ms": 60, "rdf_latency_ms": 250},
    )
    client.get("/api/v1/search?q=web")
    client.get("/api/v1/packages/webframe")
    client.post("/api/v1/packages/webframe/install")
    get = registry.get_sample_value
    # One observation each, all above the injected delay: none in the buckets below it.
    assert get("marketplace_search_duration_seconds_bucket", {"le": "0.1"}) == 0
    assert get("marketplace_search_duration_seconds_bucket", {"le": "+Inf"}) == 1
    assert get("marketplace_lookup_duration_seconds_bucket", {"le": "0.05"}) == 0
    assert get("marketplace_lookup_duration_seconds_sum") >= 0.06
    rdf = {"query": "install_closure"}
    assert get("marketplace_rdf_query_duration_seconds_bucket", {**rdf, "le": "0.2"}) == 0
    assert get("marketplace_install_duration_seconds_sum") >= 0.25
    route = {"method": "GET", "route": "/api/v1/search", "le": "0.1"}
    assert get("marketplace_http_request_duration_seconds_bucket", route) == 0


def test_cache_bypass_turns_hits_into_misses(client, registry, auth):
    client.get("/api/v1/search?q=web")
    client.get("/api/v1/search?q=web")
    client.put("/admin/faults", headers=auth, json={"cache_bypass": True})
    client.get("/api/v1/search?q=web")
    client.get("/api/v1/search?q=web")
    get = registry.get_sample_value
    assert get("marketplace_cache_hits_total", {"cache": "search"}) == 1
    assert get("marketplace_cache_misses_total", {"cache": "search"}) == 3
