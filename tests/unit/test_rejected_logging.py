"""Rejected requests (400, 401, 404, 405, 413) leave one info line each: status, method, route
and a fixed reason, never the raw path, query or body."""

import json
import logging

import pytest

pytestmark = pytest.mark.unit

# Client-chosen text that must never reach a log line.
MARK = "ZZsecretZZ"


@pytest.fixture
def lines(log_stream):
    """The JSON lines written through the service's formatter while the test runs."""
    stream = log_stream

    def read():
        return stream.getvalue(), [json.loads(line) for line in stream.getvalue().splitlines()]

    yield read


def rejected(parsed):
    return [line for line in parsed if line["message"] == "Request rejected"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "route", "reason"),
    [
        (
            "get",
            f"/api/v1/search?q=&x={MARK}",
            {},
            400,
            "/api/v1/search",
            "invalid parameters or body",
        ),
        (
            "get",
            f"/api/v1/search?q={MARK}&limit={MARK}",
            {},
            400,
            "/api/v1/search",
            "invalid parameters or body",
        ),
        (
            "post",
            "/api/v1/packages/webframe/install",
            {"data": "{" + MARK},
            400,
            "/api/v1/packages/<package_id>/install",
            "invalid parameters or body",
        ),
        (
            "get",
            f"/api/v1/packages/{MARK.lower()}",
            {},
            404,
            "/api/v1/packages/<package_id>",
            "no such resource",
        ),
        ("get", f"/{MARK}/../{MARK}?{MARK}", {}, 404, "<unmatched>", "no route matches the path"),
        (
            "delete",
            f"/api/v1/search?q={MARK}",
            {},
            405,
            "/api/v1/search",
            "method not allowed on the route",
        ),
        ("put", "/healthz", {"data": MARK}, 405, "/healthz", "method not allowed on the route"),
        (
            "post",
            "/api/v1/packages/webframe/install",
            {"data": MARK * 110_000},
            413,
            "/api/v1/packages/<package_id>/install",
            "body over the size limit",
        ),
        (
            "get",
            f"/{MARK}",
            {"data": "x" * (1024 * 1024 + 1)},
            413,
            "<unmatched>",
            "body over the size limit",
        ),
        (
            "get",
            "/admin/faults",
            {"headers": {"Authorization": f"Bearer {MARK}"}},
            401,
            "/admin/faults",
            "missing or wrong bearer token",
        ),
    ],
)
def test_a_rejected_request_logs_one_line_without_its_input(
    client, lines, method, path, kwargs, status, route, reason
):
    response = getattr(client, method)(path, **kwargs)
    assert response.status_code == status
    _, parsed = lines()
    (line,) = rejected(parsed)
    assert line["level"] == "INFO"
    assert line["logger"] == "marketplace.rejected"
    assert {k: line[k] for k in ("status", "method", "route", "reason")} == {
        "status": status,
        "method": method.upper(),
        "route": route,
        "reason": reason,
    }
    # The lookup's own line names the package id it was asked for; the rejection never does.
    assert MARK.lower() not in json.dumps(line).lower()


def test_a_made_up_method_is_logged_as_other(client, lines):
    response = client.open("/healthz", method=MARK)
    assert response.status_code == 405
    text, parsed = lines()
    (line,) = rejected(parsed)
    assert line["method"] == "OTHER" and MARK not in text


def test_the_admin_api_off_is_logged_as_a_404_of_its_route(make_app, lines):
    client = make_app(admin_token=None).test_client()
    assert client.get("/admin/faults").status_code == 404
    (line,) = rejected(lines()[1])
    assert (line["status"], line["route"]) == (404, "/admin/faults")


def test_answered_requests_log_no_rejection(client, lines, auth):
    for path in ("/", "/healthz", "/api/v1/search?q=http", "/api/v1/packages/webframe"):
        assert client.get(path).status_code == 200
    assert client.get("/admin/faults", headers=auth).status_code == 200
    assert rejected(lines()[1]) == []


def test_rejections_can_be_quieted_by_their_own_logger(client, lines):
    logger = logging.getLogger("marketplace.rejected")
    logger.setLevel(logging.WARNING)
    try:
        assert client.get("/nowhere").status_code == 404
    finally:
        logger.setLevel(logging.NOTSET)
    assert rejected(lines()[1]) == []
