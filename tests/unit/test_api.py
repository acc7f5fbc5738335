"""The HTTP API: endpoints, status codes, and every bad-input case as a JSON error."""

import pytest

pytestmark = pytest.mark.unit


def error_of(response, status):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    body = response.get_json()
    assert set(body) == {"error"}
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    text = response.get_data(as_text=True)
    assert "Traceback" not in text and 'File "' not in text
    return body["error"]


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz").get_json()
    assert ready == {"status": "ready", "variant": "v2", "packages": 18}


def test_readyz_is_503_until_the_catalog_is_loaded(app, client):
    mp = app.extensions["marketplace"]
    store, mp.store = mp.store, None
    try:
        error_of(client.get("/readyz"), 503)
        error_of(client.get("/api/v1/search?q=http"), 503)
        assert client.get("/healthz").status_code == 200
    finally:
        mp.store = store


def test_search_ranks_exact_name_then_name_then_keyword_then_description(client):
    body = client.get("/api/v1/search?q=HTTP").get_json()
    ids = [r["id"] for r in body["results"]]
    # exact name; then names containing "http" by downloads; then keyword hits by downloads;
    # then description-only hits.
    assert ids[:3] == ["http", "httpclient", "urlpool"]
    assert ids[3:5] == ["wsgikit", "webframe"]
    assert body["query"] == "HTTP" and body["limit"] == 20 and body["count"] == len(ids)
    assert set(body["results"][0]) == {
        "id",
        "name",
        "version",
        "description",
        "license",
        "downloads",
    }


def test_search_limit_and_empty_result(client):
    body = client.get("/api/v1/search?q=http&limit=2").get_json()
    assert body["count"] == 2 and [r["id"] for r in body["results"]] == ["http", "httpclient"]
    assert client.get("/api/v1/search?q=nothing-matches-this").get_json()["results"] == []
    assert client.get("/api/v1/search?q=%20chain%20&limit=100").get_json()["count"] == 3


def test_a_response_is_compact_utf8_json_in_the_documented_field_order(client):
    response = client.get("/api/v1/search?q=caf%C3%A9")
    assert response.status_code == 200 and response.mimetype == "application/json"
    # orjson writes UTF-8 as is, no spaces, and the fields in the order the handler gives them
    assert response.get_data() == '{"query":"café","limit":20,"count":0,"results":[]}'.encode()
    (result,) = client.get("/api/v1/search?q=http&limit=1").get_json()["results"]
    assert list(result) == ["id", "name", "version", "description", "license", "downloads"]


@pytest.mark.parametrize(
    "query_string",
    [
        "",
        "q=",
        "q=%20%20",
        "q=" + "x" * 201,
        "q=a%0Ab",
        "q=a%00b",
        "q=tab%09",
        "q=del%7F",
        "q=http&limit=0",
        "q=http&limit=101",
        "q=http&limit=-1",
        "q=http&limit=abc",
        "q=http&limit=2.5",
        "q=http&limit=",
        "q=http&limit=%EF%BC%95",  # a full-width digit: str.isdigit() alone would accept it
        "q=http&limit=99999999999999999999999",
    ],
)
def test_search_bad_input_is_400(client, query_string):
    error = error_of(client.get(f"/api/v1/search?{query_string}"), 400)
    assert error["code"] == "bad_request"


def test_lookup(client):
    body = client.get("/api/v1/packages/httpclient").get_json()
    assert body["id"] == "httpclient" and body["version"] == "2.31.0"
    assert body["keywords"] == ["client", "http"]
    assert body["dependencies"] == [
        {"id": "certstore", "name": "certstore", "version": "2024.2.2"},
        {"id": "urlpool", "name": "urlpool", "version": "2.0.7"},
    ]


@pytest.mark.parametrize("package_id", ["nope", "HTTPCLIENT", "a%20b", "x" * 300, "..", "%0Aevil"])
def test_lookup_unknown_or_malformed_id_is_404(client, package_id):
    assert error_of(client.get(f"/api/v1/packages/{package_id}"), 404)["code"] == "not_found"


def test_install_plan_puts_dependencies_first(client):
    body = client.post("/api/v1/packages/webframe/install").get_json()
    ids = [step["id"] for step in body["plan"]]
    assert ids[-1] == "webframe" and sorted(ids) == sorted(
        ["webframe", "templater", "wsgikit", "safestr", "clicker"]
    )
    for package, dependency in [("templater", "safestr"), ("wsgikit", "safestr")]:
        assert ids.index(dependency) < ids.index(package)
    assert ids.count("safestr") == 1  # the diamond resolves to one install
    assert body["count"] == 5 and body["package"] == "webframe"


def test_install_chain_and_installed_packages_skipped(client):
    plan = client.post("/api/v1/packages/chain-a/install").get_json()["plan"]
    assert [s["id"] for s in plan] == ["chain-c", "chain-b", "chain-a"]
    body = client.post("/api/v1/packages/chain-a/install", json={"installed": ["chain-c"]})
    assert [s["id"] for s in body.get_json()["plan"]] == ["chain-b", "chain-a"]


@pytest.mark.parametrize("package_id", ["cycle-a", "uses-cycle"])
def test_install_cycle_is_409_naming_the_cycle(client, package_id):
    error = error_of(client.post(f"/api/v1/packages/{package_id}/install"), 409)
    assert error["code"] == "dependency_cycle"
    cycle = error["cycle"]
    assert cycle[0] == cycle[-1] and sorted(cycle[:-1]) == ["cycle-a", "cycle-b", "cycle-c"]
    assert " -> ".join(cycle) in error["message"]


def test_install_missing_dependency_is_409(client):
    error = error_of(client.post("/api/v1/packages/dangling/install"), 409)
    assert error["code"] == "missing_dependency" and error["dependency"] == "ghost"


def test_install_unknown_package_is_404(client):
    error_of(client.post("/api/v1/packages/ghost/install"), 404)


@pytest.mark.parametrize(
    "data",
    [
        b"{not json",
        b"[1, 2]",
        b'"installed"',
        b'{"installed": "chain-c"}',
        b'{"installed": [1]}',
        b'{"other": []}',
        b"\xff\xfe",
    ],
)
def test_install_malformed_body_is_400(client, data):
    response = client.post(
        "/api/v1/packages/chain-a/install", data=data, content_type="application/json"
    )
    error_of(response, 400)


def test_body_over_one_megabyte_is_413(client):
    response = client.post(
        "/api/v1/packages/chain-a/install",
        data=b"{" + b" " * (1024 * 1024) + b"}",
        content_type="application/json",
    )
    assert error_of(response, 413)["code"] == "payload_too_large"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/search?q=http"),
        ("delete", "/api/v1/packages/httpclient"),
        ("get", "/api/v1/packages/httpclient/install"),
        ("post", "/healthz"),
    ],
)
def test_wrong_method_is_405_with_allow(client, method, path):
    response = getattr(client, method)(path)
    assert error_of(response, 405)["code"] == "method_not_allowed"
    assert response.headers["Allow"]


def test_unknown_path_is_404(client):
    error_of(client.get("/api/v2/search?q=x"), 404)


def test_unexpected_exception_is_500_without_details(app, client, monkeypatch):
    store = app.extensions["marketplace"].store

    def explode(*args):
        raise RuntimeError("secret internal detail /etc/passwd")

    monkeypatch.setattr(store, "lookup", explode)
    response = client.get("/api/v1/packages/httpclient")
    error = error_of(response, 500)
    assert "secret" not in response.get_data(as_text=True)
    assert error["code"] == "internal_error"


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/api/v1/search?q=http"), ("put", "/admin/faults"), ("post", "/healthz")],
)
def test_any_declared_body_over_one_megabyte_is_413(client, auth, method, path):
    response = getattr(client, method)(
        path, data=b"x" * (1024 * 1024 + 1), headers=auth, content_type="application/json"
    )
    assert error_of(response, 413)["code"] == "payload_too_large"
