"""Bad input at scale: schemathesis against the live service (`python -m marketplace`, the shipped
catalog, a free loopback port), generating requests from the served /openapi.json: valid and
invalid query strings, bodies, headers and path ids, unlisted methods, missing and wrong tokens.

Every response must conform to the document (status documented, content type, schema, headers),
no response may be a 5xx, and every error is the documented JSON object. Bounded by the number of
examples per operation (about a minute here) and by a wall-clock budget; figures go to the
terminal summary and .run/api-fuzz.json.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import hypothesis
import pytest
import requests
import schemathesis
from livestack import free_ports, session
from schemathesis.core.failures import FailureGroup

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "fuzz-admin-token-0123456789"
MAX_EXAMPLES = 400  # per operation and generation phase
BUDGET_S = 150.0  # hard stop for sending, in case a slow machine makes the count too much
ERROR_CODES = {
    "bad_request", "unauthorized", "not_found", "method_not_allowed", "payload_too_large",
    "dependency_cycle", "missing_dependency", "internal_error", "unavailable", "injected_fault",
}  # fmt: skip
FIGURES = {"requests": 0, "server_errors": 0, "non_conforming": 0, "not_sent_over_budget": 0}
PER_OPERATION: dict[str, int] = {}
PROBLEMS: list[str] = []


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    """The service as users start it, stopped by its own PID when the module is done."""
    run = tmp_path_factory.mktemp("fuzz")
    (port,) = free_ports(1)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "MARKETPLACE_"))  # nothing exported, nothing inherited
    }
    env.update(
        MARKETPLACE_HOST="127.0.0.1",
        MARKETPLACE_PORT=str(port),
        MARKETPLACE_VARIANT="v2",
        MARKETPLACE_ADMIN_TOKEN=TOKEN,
        MARKETPLACE_LOG_FILE=str(run / "service.log"),
    )
    out = (run / "stdout.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "marketplace"],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    http = session()
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the service exited with {proc.returncode}: {_tail(run)}")
            try:
                if http.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the service was not ready within 60 s: {_tail(run)}")
            time.sleep(0.1)
        yield {"base": base, "log": run / "service.log", "http": http}
    finally:
        http.close()
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)
        out.close()


def _tail(run: Path) -> str:
    return (run / "stdout.log").read_text(errors="replace")[-2000:]


@pytest.fixture(scope="module")
def api_schema(service):
    config = schemathesis.Config.from_dict(
        {
            "generation": {"mode": "all", "max-examples": MAX_EXAMPLES, "database": "none"},
            "phases": {"coverage": {"enabled": True}},
            "auth": {"openapi": {"adminToken": {"bearer": TOKEN}}},
            "request-timeout": 10,
        }
    )
    schema = schemathesis.openapi.from_url(f"{service['base']}/openapi.json", config=config)
    schema.validate()  # the served document against the OpenAPI 3.1 meta-schema
    return schema


_started = time.monotonic()
# schemathesis' own pytest parametrisation (from_fixture) does not run under pytest 9.2 (it reads
# Function._nodeid), so each operation's strategy is driven by hypothesis here.
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


def test_generated_requests_conform_and_never_fail(api_schema, service):
    global _started
    _started = time.monotonic()
    operations = [result.ok() for result in api_schema.get_all_operations()]
    for operation in operations:
        for mode in MODES:

            @hypothesis.settings(
                max_examples=MAX_EXAMPLES,
                deadline=None,
                database=None,
                suppress_health_check=list(hypothesis.HealthCheck),
                phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
            )
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def run(case):
                _exchange(case, service)

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                # no invalid request exists for an operation without parameters or body
                assert mode is schemathesis.GenerationMode.NEGATIVE, operation.label
    assert FIGURES["server_errors"] == 0 and FIGURES["non_conforming"] == 0, PROBLEMS[:5]


def _exchange(case, service) -> None:
    label = f"{case.method} {case.path}"
    if time.monotonic() - _started > BUDGET_S:
        FIGURES["not_sent_over_budget"] += 1
        return
    response = case.call(timeout=10)
    FIGURES["requests"] += 1
    PER_OPERATION[label] = PER_OPERATION.get(label, 0) + 1
    problems = []
    if response.status_code >= 500:
        FIGURES["server_errors"] += 1
        problems.append(f"{response.status_code} server error")
    if response.status_code >= 400:
        problems += _error_shape(response)
    try:
        case.validate_response(response)
    except FailureGroup as group:
        problems += [f"{type(f).__name__}: {f.title}" for f in group.exceptions]
    except AssertionError as exc:
        problems.append(str(exc).splitlines()[0])
    if problems:
        FIGURES["non_conforming"] += 1
        PROBLEMS.append(
            f"{label} -> {response.status_code}: {problems}\n  {case.as_curl_command()}"
        )
    if case.method == "PUT" and case.path == "/admin/faults" and response.status_code == 200:
        # a generated fault (60 s of latency, every request failing) must not leak into the rest
        service["http"].delete(
            f"{service['base']}/admin/faults", headers={"Authorization": f"Bearer {TOKEN}"}
        )


def _error_shape(response) -> list[str]:
    try:
        body = json.loads(response.content)
    except ValueError:
        return [f"error body is not JSON: {response.content[:80]!r}"]
    error = body.get("error") if isinstance(body, dict) else None
    if (
        not isinstance(error, dict)
        or set(body) != {"error"}
        or error.get("code") not in ERROR_CODES
        or not isinstance(error.get("message"), str)
    ):
        return [f"error body is not the documented object: {response.content[:120]!r}"]
    return []


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        # A body nested past the parser's recursion limit must be a 400, not a 500.
        ("POST", "/api/v1/packages/requests/install", b"[" * 100_000),
        ("PUT", "/admin/faults", b"[" * 100_000),
        ("POST", "/api/v1/packages/requests/install", b'{"installed": ' + b"[" * 5000),
        # Not UTF-8, and a lone surrogate escape.
        ("PUT", "/admin/faults", b'{"error_rate": "\xff\xfe"}'),
        ("POST", "/api/v1/packages/requests/install", b'{"installed": ["\\ud800"]}'),
    ],
)
def test_hostile_bodies_are_rejected_as_documented(service, method, path, data):
    response = service["http"].request(
        method,
        service["base"] + path,
        data=data,
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        timeout=10,
    )
    FIGURES["requests"] += 1
    assert response.status_code < 500, response.text[:200]
    assert _error_shape(response) == [] or response.status_code == 200


def test_the_run_reached_every_operation_with_no_failure(service, request):
    served = service["http"].get(f"{service['base']}/openapi.json", timeout=5).json()
    operations = {
        f"{m.upper()} {p}" for p, item in served["paths"].items() for m in item if m != "parameters"
    }
    figures = {
        **FIGURES,
        "seconds": round(time.monotonic() - _started, 1),
        "per_operation": PER_OPERATION,
        "problems": PROBLEMS[:20],
    }
    out = ROOT / ".run" / "api-fuzz.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(figures, indent=2) + "\n")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    line = (
        f"api fuzz: {FIGURES['requests']} requests, {FIGURES['server_errors']} server errors, "
        f"{FIGURES['non_conforming']} non-conforming, "
        f"{FIGURES['not_sent_over_budget']} not sent (over budget), {figures['seconds']} s"
    )
    if reporter is not None:
        reporter.write_line(line)
    rejected = sum(1 for t in service["log"].read_text().splitlines() if "Request rejected" in t)
    unhandled = [t for t in service["log"].read_text().splitlines() if "Unhandled error" in t]
    assert unhandled == [], unhandled[:3]
    assert rejected > 0  # the rejections were logged, one line each
    assert FIGURES["server_errors"] == 0 and FIGURES["non_conforming"] == 0, PROBLEMS[:5]
    # schemathesis leaves out the operation that serves the document it was loaded from
    assert set(PER_OPERATION) == operations - {"GET /openapi.json"}, PER_OPERATION
    # an operation without parameters or body has one distinct request; the others many
    assert sum(count >= 50 for count in PER_OPERATION.values()) == 6, PER_OPERATION
