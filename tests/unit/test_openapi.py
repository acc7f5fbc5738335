"""The OpenAPI document: valid OpenAPI 3.1, served as committed, and the app's routes both ways."""

import json
import re
from pathlib import Path

import pytest
from marketplace import __version__, apidoc
from marketplace.api import MAX_INSTALLED, MAX_LIMIT, MAX_QUERY_LENGTH
from marketplace.faults import MAX_LATENCY_MS
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = ROOT / "service" / "marketplace" / "openapi.json"
# Answered by Flask for every rule (HEAD for each GET), documented once in info.description.
IMPLICIT = {"HEAD", "OPTIONS"}


def committed() -> dict:
    return json.loads(DOCUMENT.read_text())


def documented_operations(doc: dict) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in doc["paths"].items()
        for method in item
        if method in apidoc.OPERATIONS
    }


def app_operations(app) -> set[tuple[str, str]]:
    """(method, path) of every URL rule, the rule written as an OpenAPI path template."""
    return {
        (method, re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule))
        for rule in app.url_map.iter_rules()
        for method in rule.methods - IMPLICIT
    }


def test_the_document_is_valid_openapi_3_1():
    doc = committed()
    assert doc["openapi"].startswith("3.1.")
    validate(doc)  # raises on any error against the 3.1 meta-schema or the spec's own rules


def test_the_validator_rejects_a_broken_document():
    doc = committed()
    # a path template whose parameter is declared nowhere
    del doc["paths"]["/api/v1/packages/{package_id}"]["get"]["parameters"]
    with pytest.raises(OpenAPIValidationError):
        validate(doc)


def test_every_route_of_the_app_is_documented_and_every_documented_route_exists(app):
    documented, served = documented_operations(committed()), app_operations(app)
    assert served - documented == set(), "routes missing from the document"
    assert documented - served == set(), "documented routes the app does not have"
    assert len(served) >= 11


def test_a_new_route_would_be_caught(make_app):
    app = make_app()
    app.add_url_rule("/undocumented", "undocumented", lambda: "", methods=["PATCH"])
    assert app_operations(app) - documented_operations(committed()) == {("PATCH", "/undocumented")}


def test_path_parameters_match_the_rules(app):
    doc = committed()
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - IMPLICIT:
            operation = doc["paths"][path][method.lower()]
            params = [resolve(doc, p) for p in operation.get("parameters", [])]
            in_path = {p["name"] for p in params if p["in"] == "path"}
            assert in_path == set(rule.arguments), (method, path)


def resolve(doc: dict, node: dict) -> dict:
    """Follow local `$ref`s (`#/components/...`) to what they name."""
    while "$ref" in node:
        target = doc
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_bounds_are_the_validation_codes_bounds():
    doc = committed()
    params = {p["name"]: p["schema"] for p in doc["paths"]["/api/v1/search"]["get"]["parameters"]}
    assert params["q"]["maxLength"] == MAX_QUERY_LENGTH and params["q"]["minLength"] == 1
    assert (params["limit"]["minimum"], params["limit"]["maximum"]) == (1, MAX_LIMIT)
    schemas = doc["components"]["schemas"]
    assert schemas["InstallRequest"]["properties"]["installed"]["maxItems"] == MAX_INSTALLED
    faults = schemas["FaultChanges"]["properties"]
    assert faults["search_latency_ms"]["maximum"] == MAX_LATENCY_MS
    assert (faults["error_rate"]["minimum"], faults["error_rate"]["maximum"]) == (0, 1)


@pytest.mark.parametrize(
    ("q", "valid"),
    [
        ("http", True),
        ("  padded  ", True),
        ("é", True),
        ("", False),
        ("   ", False),
        ("\u3000\u00a0", False),  # blank to Python's str.strip, as the handler uses
        ("a\tb", False),
        ("a\x7fb", False),
        ("a\x85b", False),
    ],
)
def test_the_q_pattern_says_what_the_handler_accepts(client, q, valid):
    doc = committed()
    (schema,) = [p["schema"] for p in doc["paths"]["/api/v1/search"]["get"]["parameters"][:1]]
    assert (re.fullmatch(schema["pattern"], q) is not None) == valid
    assert (client.get("/api/v1/search", query_string={"q": q}).status_code == 200) == valid


def test_openapi_json_serves_the_committed_document_with_the_package_version(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    served, doc = response.get_json(), committed()
    assert served["info"].pop("version") == __version__
    doc["info"].pop("version")
    assert served == doc


def test_the_document_ships_as_package_data():
    pyproject = (ROOT / "service" / "pyproject.toml").read_text()
    assert '"marketplace" = ["openapi.json"]' in pyproject
