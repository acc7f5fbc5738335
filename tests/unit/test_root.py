"""`/`: a small JSON index of the endpoints, the same list the OpenAPI document has."""

import json
from pathlib import Path

import pytest
from marketplace import __version__

pytestmark = pytest.mark.unit

DOCUMENT = Path(__file__).resolve().parents[2] / "service" / "marketplace" / "openapi.json"


def test_root_lists_every_documented_endpoint(client):
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["service"] == "marketplace"
    assert body["version"] == __version__
    assert body["openapi"] == "/openapi.json"
    doc = json.loads(DOCUMENT.read_text())
    expected = [
        {"method": method.upper(), "path": path, "summary": op["summary"]}
        for path, item in doc["paths"].items()
        for method, op in item.items()
    ]
    assert body["endpoints"] == expected
    listed = {(e["method"], e["path"]) for e in body["endpoints"]}
    assert {("GET", "/api/v1/search"), ("POST", "/api/v1/packages/{package_id}/install")} <= listed
    assert ("GET", "/") in listed and ("GET", "/openapi.json") in listed


@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_root_names_the_variant(make_app, variant):
    assert make_app(variant=variant).test_client().get("/").get_json()["variant"] == variant


def test_root_answers_before_the_catalog_is_loaded(app, client):
    app.extensions["marketplace"].store = None
    assert client.get("/").status_code == 200


def test_every_listed_get_endpoint_answers(client, auth):
    for endpoint in client.get("/").get_json()["endpoints"]:
        if endpoint["method"] != "GET" or "{" in endpoint["path"]:
            continue
        query = {"q": "http"} if endpoint["path"].endswith("/search") else {}
        response = client.get(endpoint["path"], query_string=query, headers=auth)
        assert response.status_code == 200, endpoint
