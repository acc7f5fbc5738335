"""User text is bound as a value: SPARQL syntax in a search or an id is just characters."""

from urllib.parse import quote

import pytest
from rdflib import Graph

pytestmark = pytest.mark.unit

ATTEMPTS = [
    '" } ; DROP ALL ; #',
    '") || true || ("',
    "') } UNION { ?pkg ?p ?o } #",
    '"} } SELECT * WHERE { ?s ?p ?o } #',
    "\\u0022 } #",
    'x" . FILTER(true) #',
    "} LIMIT 1000 #",
    "<https://marketplace.example.org/package/ghost>",
    "?q",
    "${q}",
    "%s",
    "{q}",
]


@pytest.fixture(params=["v1", "v2"])
def variant_app(request, make_app):
    return make_app(variant=request.param)


@pytest.mark.parametrize("attempt", ATTEMPTS)
def test_search_injection_matches_literally(variant_app, attempt):
    client = variant_app.test_client()
    graph: Graph = variant_app.extensions["marketplace"].store.graph
    before = len(graph)
    response = client.get("/api/v1/search", query_string={"q": attempt, "limit": 100})
    assert response.status_code == 200
    results = response.get_json()["results"]
    needle = attempt.strip().lower()
    # Whatever comes back really contains the text; nothing else leaks in.
    for r in results:
        store = variant_app.extensions["marketplace"].store
        detail = store.lookup(r["id"])[0]
        haystack = [detail["name"], detail["description"], *detail["keywords"]]
        assert any(needle in h.lower() for h in haystack)
    assert len(results) < 18
    assert len(graph) == before


def test_quotes_and_braces_in_data_are_found(variant_app):
    client = variant_app.test_client()
    for text in ['"double quotes"', "}", "o'brien"]:
        results = client.get("/api/v1/search", query_string={"q": text}).get_json()["results"]
        assert [r["id"] for r in results] == ["quoted"], text


@pytest.mark.parametrize(
    "package_id",
    ["ghost> ?p ?o } #", "webframe>", 'x"}', "webframe> . ?s ?p ?o", "*", "webframe#", "a\nb"],
)
def test_package_id_injection_is_404(variant_app, package_id):
    client = variant_app.test_client()
    package_id = quote(package_id, safe="")
    assert client.get(f"/api/v1/packages/{package_id}").status_code == 404
    assert client.post(f"/api/v1/packages/{package_id}/install").status_code == 404
