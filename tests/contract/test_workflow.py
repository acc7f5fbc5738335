"""The GitHub Actions workflow that starts the compose stack where Docker exists
(.github/workflows/stack.yml): valid for GitHub, and running what the README says it runs."""

from __future__ import annotations

import subprocess
import sys

import pytest
import stackfiles as sf
import yaml

pytestmark = pytest.mark.contract

WORKFLOW = sf.REPO / ".github" / "workflows" / "stack.yml"
CHECK = [sys.executable, "-m", "check_jsonschema", "--builtin-schema", "vendor.github-workflows"]


@pytest.fixture(scope="module")
def job() -> dict:
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    (only,) = workflow["jobs"].values()
    return only


def _runs(job: dict) -> list[str]:
    return [step.get("run", "") for step in job["steps"]]


def _index(job: dict, command: str) -> int:
    for i, run in enumerate(_runs(job)):
        if any(line.strip().startswith(command) for line in run.splitlines()):
            return i
    raise AssertionError(f"no step runs {command!r}")


def test_the_workflow_validates_against_githubs_workflow_schema():
    result = subprocess.run(
        [*CHECK, str(WORKFLOW)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_runs_on_x86_and_on_arm64(job):
    assert job["runs-on"] == "${{ matrix.runner }}"
    assert set(job["strategy"]["matrix"]["runner"]) == {"ubuntu-latest", "ubuntu-24.04-arm"}
    assert job["strategy"]["fail-fast"] is False  # one architecture failing hides nothing


def test_it_runs_the_readme_test_then_the_stack_in_order_and_always_stops_it(job):
    workflow = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert workflow["env"]["CI"] == "true"
    order = [_index(job, c) for c in ("make test", "make up", "make test-stack", "make verify")]
    assert order == sorted(order)
    assert "MODE=docker" in _runs(job)[order[1]]
    down = _index(job, "make down")
    assert down > order[-1] and job["steps"][down]["if"] == "always()"
    readme = (sf.REPO / "README.md").read_text(encoding="utf-8")
    assert "make test" in readme and ".github/workflows/stack.yml" in readme


def test_the_binaries_come_from_the_makefile_path_the_readme_describes(job):
    # As root on Ubuntu, `make test-binaries` (make test's first step) apt-gets them itself.
    install = _index(job, "sudo make test-binaries")
    assert install < _index(job, "make test")


def test_the_job_summary_carries_what_make_up_printed(job):
    up_step = job["steps"][_index(job, "make up")]
    assert "tee make-up.log" in up_step["run"] and "pipefail" in up_step["run"]
    summary = next(s for s in job["steps"] if "GITHUB_STEP_SUMMARY" in s.get("run", ""))
    assert "cat make-up.log" in summary["run"]
    assert "steps.up.outputs.seconds" in summary["run"]
    assert summary["if"].startswith("always()")
