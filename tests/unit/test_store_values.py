"""What the stores answer, value by value: a cached answer equals the computed one, a plan step
carries its package's version, both variants count the same packages, and the install body's
rules are exact at their edges. Read through the HTTP API, so they hold however it is built.
"""

from __future__ import annotations

import pytest
from marketplace.metrics import Metrics
from prometheus_client import CollectorRegistry

pytestmark = pytest.mark.unit

# From tests/unit/data/catalog.ttl.
WEBFRAME_VERSIONS = {
    "webframe": "3.0.0",
    "templater": "2.1.0",
    "wsgikit": "1.4.2",
    "safestr": "0.9.1",
    "clicker": "8.0.0",
}
INSTALL = "/api/v1/packages/chain-a/install"


@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_both_variants_count_the_same_packages(make_app, variant):
    body = make_app(variant=variant).test_client().get("/readyz").get_json()
    assert body == {"status": "ready", "variant": variant, "packages": 18}


@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_a_repeated_lookup_answers_the_same_package(make_app, variant):
    client = make_app(variant=variant).test_client()
    first = client.get("/api/v1/packages/webframe")
    second = client.get("/api/v1/packages/webframe")  # v2: from its cache
    assert first.status_code == second.status_code == 200
    assert second.get_json() == first.get_json()
    assert first.get_json()["version"] == "3.0.0"


def test_a_repeated_search_answers_the_same_results(client):
    first = client.get("/api/v1/search?q=http").get_json()
    second = client.get("/api/v1/search?q=http").get_json()
    assert first == second and first["count"] > 1


@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_each_plan_step_carries_its_packages_version(make_app, variant):
    client = make_app(variant=variant).test_client()
    plan = client.post("/api/v1/packages/webframe/install").get_json()["plan"]
    assert {step["id"]: step for step in plan} == {
        package: {"id": package, "version": version}
        for package, version in WEBFRAME_VERSIONS.items()
    }


def test_an_unknown_error_type_counts_as_internal():
    metrics = Metrics(CollectorRegistry(), version="0", variant="v2")
    metrics.search_error("not-a-type")
    get = metrics.registry.get_sample_value
    assert get("marketplace_search_errors_total", {"error_type": "internal"}) == 1
    assert get("marketplace_search_errors_total", {"error_type": "not-a-type"}) is None


# --- the install body -------------------------------------------------------------------------


def post(client, body: bytes):
    return client.post(INSTALL, data=body, content_type="application/json")


@pytest.mark.parametrize("body", [b"", b"  \n", b"{}", b'{"installed": []}'])
def test_an_empty_body_or_no_installed_list_plans_everything(client, body):
    response = post(client, body)
    assert response.status_code == 200
    assert [step["id"] for step in response.get_json()["plan"]] == ["chain-c", "chain-b", "chain-a"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{not json", "request body is not valid JSON"),
        (b"\xff\xfe", "request body is not valid JSON"),
        (b"[1, 2]", 'request body must be a JSON object with only the key "installed"'),
        (b'{"other": []}', 'request body must be a JSON object with only the key "installed"'),
        (b'{"installed": "chain-c"}', '"installed" must be a list of at most 1000 package ids'),
        (b'{"installed": [1]}', '"installed" must be a list of at most 1000 package ids'),
    ],
)
def test_a_bad_install_body_is_400_saying_what_is_wrong(client, body, message):
    response = post(client, body)
    assert response.status_code == 400
    assert response.get_json()["error"] == {"code": "bad_request", "message": message}


def test_the_installed_list_may_hold_exactly_1000_ids(client):
    ids = ["chain-c"] + [f"other-{i}" for i in range(999)]
    at_limit = client.post(INSTALL, json={"installed": ids})
    assert at_limit.status_code == 200
    assert [step["id"] for step in at_limit.get_json()["plan"]] == ["chain-b", "chain-a"]
    over = client.post(INSTALL, json={"installed": [*ids, "one-more"]})
    assert over.status_code == 400


# --- the search arguments and readiness, exact at their edges ----------------------------------


@pytest.mark.parametrize(
    ("query_string", "message"),
    [
        ("q=", "q is required and must not be blank"),
        ("q=%20%20", "q is required and must not be blank"),
        ("q=" + "a" * 201, "q is longer than 200 characters"),
        ("q=a%09b", "q must not contain control characters"),
        ("q=a%C2%9Fb", "q must not contain control characters"),  # U+009F, the last C1 control
        ("q=web&limit=0", "limit must be an integer from 1 to 100"),
        ("q=web&limit=101", "limit must be an integer from 1 to 100"),
    ],
)
def test_a_bad_search_is_400_saying_what_is_wrong(client, query_string, message):
    response = client.get(f"/api/v1/search?{query_string}")
    assert response.status_code == 400
    assert response.get_json()["error"] == {"code": "bad_request", "message": message}


@pytest.mark.parametrize("query", ["a" * 200, "caf%C3%A9", "a%C2%A0b"])  # 200 chars, é, NBSP
def test_a_search_at_the_edges_of_the_rules_is_answered(client, query):
    assert client.get(f"/api/v1/search?q={query}&limit=100").status_code == 200


def test_before_the_catalog_is_loaded_a_search_is_503_saying_so(app, client):
    mp = app.extensions["marketplace"]
    store, mp.store = mp.store, None
    try:
        response = client.get("/api/v1/search?q=web")
    finally:
        mp.store = store
    assert response.status_code == 503
    assert response.get_json()["error"]["message"] == "the catalog is still loading"
