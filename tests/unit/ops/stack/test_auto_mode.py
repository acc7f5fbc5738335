"""Auto mode (ops.stack, ops.promapi): a running native stack wins over a Docker engine."""

import json
import sys

import pytest

from ops import promapi
from ops.stack import cli as stack
from ops.stack import native
from ops.stack.procs import ProcessTable

pytestmark = pytest.mark.unit


@pytest.fixture
def docker_answers(monkeypatch):
    monkeypatch.setattr(stack, "docker_engine", lambda: (True, "`docker info` answered"))
    monkeypatch.delenv("MODE", raising=False)


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    monkeypatch.setattr(native, "RUN_DIR", tmp_path)  # the default every auto decision reads
    return tmp_path


def test_without_a_native_stack_auto_follows_docker(docker_answers, run_dir):
    assert stack.choose_mode("auto") == "docker"
    assert promapi.detect_mode("auto") == "docker"


def test_a_running_native_stack_wins_over_docker_in_auto_mode(docker_answers, run_dir, capsys):
    table = ProcessTable(run_dir / "pids", run_dir / "logs")
    argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    table.start("prometheus", argv, {}, run_dir)
    try:
        assert stack.choose_mode("auto") == "native"
        assert "native stack running: prometheus" in capsys.readouterr().err
        assert stack.native_running() == ["prometheus"]
        assert promapi.detect_mode("auto") == "native"
        assert promapi.detect_mode("docker") == "docker"  # asked for: never second-guessed
    finally:
        table.stop("prometheus", timeout=5)
    assert stack.choose_mode("auto") == "docker"


def test_a_stale_pid_file_does_not_count_as_a_running_stack(docker_answers, run_dir):
    pids = run_dir / "pids"
    pids.mkdir()
    # PID 1 is alive but was not started at this tick: a reused PID, not the stack's process.
    record = {"pid": 1, "start_ticks": -5, "argv": ["x"], "started_at": 0.0}
    (pids / "alertmanager.pid").write_text(json.dumps(record))
    assert stack.native_running() == []
    assert stack.choose_mode("auto") == "docker"
