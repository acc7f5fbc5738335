"""The admin token: compared in constant time, and never in a log line, an error body or a span."""

import json

import pytest
from marketplace import faults

pytestmark = pytest.mark.unit

WRONG = "wrong-token-" + "w" * 20


@pytest.fixture
def log_text(log_stream):
    stream = log_stream
    yield stream.getvalue


def exchange(client, token):
    """Every admin call, and a rejected one, with the given bearer; the response bodies."""
    headers = {"Authorization": f"Bearer {token}"}
    return [
        client.get("/admin/faults", headers=headers),
        client.put("/admin/faults", headers=headers, json={"error_rate": 0.25}),
        client.put("/admin/faults", headers=headers, json={token: 1}),
        client.put("/admin/faults", headers=headers, data=b"{" + token.encode()),
        client.delete("/admin/faults", headers=headers),
        client.post("/admin/faults", headers=headers),
    ]


def test_the_token_never_appears_in_logs_bodies_or_spans(client, settings, log_text, span_exporter):
    token = settings.admin_token
    wrong = exchange(client, WRONG)
    right = exchange(client, token)
    assert [r.status_code for r in wrong] == [401, 401, 401, 401, 401, 405]
    assert [r.status_code for r in right] == [200, 200, 400, 400, 200, 405]
    text = log_text()
    assert "Faults updated" in text and "Request rejected" in text  # the lines were captured
    bodies = [r.get_data(as_text=True) + json.dumps(dict(r.headers)) for r in wrong]
    bodies += [r.get_data(as_text=True) + json.dumps(dict(r.headers)) for r in right[:2]]
    spans = json.dumps([dict(s.attributes or {}) for s in span_exporter.get_finished_spans()])
    for secret in (token, WRONG):
        assert secret not in text
        assert secret not in spans
        assert all(secret not in body for body in bodies)


def test_the_comparison_is_hmac_compare_digest(client, settings, monkeypatch):
    calls = []
    real = faults.hmac.compare_digest

    def spy(a, b):
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(faults.hmac, "compare_digest", spy)
    good = {"Authorization": f"Bearer {settings.admin_token}"}
    assert (
        client.get("/admin/faults", headers={"Authorization": f"Bearer {WRONG}"}).status_code == 401
    )
    assert client.get("/admin/faults", headers=good).status_code == 200
    assert len(calls) == 2
    # Both sides are digests of one length, so not even the token's length shows in the timing.
    assert {len(a) for a, _ in calls} | {len(b) for _, b in calls} == {32}
    assert calls[0][0] != calls[0][1] and calls[1][0] == calls[1][1]


def test_a_wrong_scheme_still_runs_the_comparison(client, settings, monkeypatch):
    calls = []
    monkeypatch.setattr(faults.hmac, "compare_digest", lambda a, b: calls.append(1) or True)
    response = client.get(
        "/admin/faults", headers={"Authorization": f"Basic {settings.admin_token}"}
    )
    assert response.status_code == 401 and calls == [1]


@pytest.mark.parametrize(
    "given", ["", " ", "test-admin-toke", "test-admin-token2", "TEST-ADMIN-TOKEN"]
)
def test_only_the_exact_token_matches(given, settings):
    assert faults.token_matches(given, settings.admin_token) is False
    assert faults.token_matches(settings.admin_token, settings.admin_token) is True
