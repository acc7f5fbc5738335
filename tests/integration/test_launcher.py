"""The native launcher's process handling, on stand-in processes (no Prometheus, no ports): a PID
file outlives nothing it names, a failed `make up` undoes only its own starts, and each
component gets the environment the contracts give it.
"""

from __future__ import annotations

import os
import sys

import pytest
import yaml

from ops.stack import native, procs, render
from ops.stack.components import LOADGEN
from ops.stack.launcher import NativeStack
from ops.stack.procs import ProcessSurvived, ProcessTable

pytestmark = pytest.mark.unit

SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]
EXITS = [sys.executable, "-c", "raise SystemExit(3)"]


@pytest.fixture
def table(tmp_path):
    table = ProcessTable(tmp_path / "pids", tmp_path / "logs")
    yield table
    for name in table.names():
        table.stop(name, timeout=5)


def deny_signals(monkeypatch) -> None:
    """As if the processes belonged to another user: every signal is refused."""

    def refuse(pid, signum):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "killpg", refuse)
    monkeypatch.setattr(os, "kill", refuse)


def test_a_process_that_may_not_be_signalled_keeps_its_pid_file(table, tmp_path, monkeypatch):
    pid = table.start("sleeper", SLEEPER, {}, tmp_path)
    deny_signals(monkeypatch)

    with pytest.raises(ProcessSurvived, match=f"sleeper \\(pid {pid}\\)"):
        table.stop("sleeper", timeout=0.5, kill_timeout=0.5)

    assert table.pid_file("sleeper").is_file()
    assert table.running("sleeper") == pid
    monkeypatch.undo()
    assert table.stop("sleeper", timeout=5) is True  # the next `make down` still finds it
    assert not table.pid_file("sleeper").exists()
    assert table.running("sleeper") is None


def test_a_process_that_outlives_sigkill_keeps_its_pid_file(table, tmp_path, monkeypatch):
    pid = table.start("sleeper", SLEEPER, {}, tmp_path)
    sent = []
    # A process in uninterruptible sleep ignores even SIGKILL for a while: signals go nowhere.
    monkeypatch.setattr(ProcessTable, "_signal", staticmethod(lambda p, s: sent.append((p, s))))

    with pytest.raises(ProcessSurvived, match="still running"):
        table.stop("sleeper", timeout=0.3, kill_timeout=0.3)

    assert [signum for _, signum in sent] == [procs.signal.SIGTERM, procs.signal.SIGKILL]
    assert table.pid_file("sleeper").is_file()
    assert table.running("sleeper") == pid


def test_stopping_a_process_removes_its_pid_file_once_it_is_gone(table, tmp_path):
    table.start("sleeper", SLEEPER, {}, tmp_path)

    assert table.stop("sleeper", timeout=5) is True
    assert not table.pid_file("sleeper").exists()
    assert table.stop("sleeper") is False  # nothing left to stop


def test_make_down_reports_survivors_and_keeps_their_pid_files(tmp_path, monkeypatch, capsys):
    stack = NativeStack(tmp_path, loadgen_rate=0)
    stack.procs.start("alertsink", SLEEPER, {}, tmp_path)
    stack.procs.start("prometheus", SLEEPER, {}, tmp_path)
    try:
        deny_signals(monkeypatch)
        assert native.down(tmp_path) == 1
        assert "STILL RUNNING: alertsink" in capsys.readouterr().err
        assert sorted(stack.procs.names()) == ["alertsink", "prometheus"]
        assert native.clean(tmp_path) == 1  # never removes the PID files of live processes
        assert (tmp_path / "pids").is_dir()
        monkeypatch.undo()
        assert native.down(tmp_path) == 0
        assert "stopped: prometheus, alertsink" in capsys.readouterr().out
        assert stack.procs.names() == []
    finally:
        monkeypatch.undo()
        NativeStack(tmp_path).down()


def ready_unless_prometheus(self: NativeStack, name: str) -> bool:
    # Prometheus never is: it exits with status 3 soon after it starts.
    return name != "prometheus" and self.procs.running(name) is not None


def test_a_failed_up_stops_only_what_it_started(tmp_path, monkeypatch, capsys):
    def command(self, name):
        return (EXITS if name == "prometheus" else SLEEPER), {}

    monkeypatch.setattr(NativeStack, "command", command)
    monkeypatch.setattr(NativeStack, "is_ready", ready_unless_prometheus)
    before = NativeStack(tmp_path)
    was_running = before.start("alertsink")
    try:
        assert native.up(tmp_path, timeout=10) == 1

        assert "prometheus exited during start-up" in capsys.readouterr().err
        assert before.procs.running("alertsink") == was_running
        assert before.procs.names() == ["alertsink"]
        for name in ("marketplace-v1", "marketplace-v2", "alertmanager", LOADGEN):
            assert before.procs.running(name) is None
    finally:
        before.down()


def test_marketplace_variants_log_json_lines_to_a_file_in_the_run_logs(tmp_path):
    stack = NativeStack(tmp_path, admin_token="t")

    for name in ("marketplace-v1", "marketplace-v2"):
        _, env = stack.command(name)
        assert env["MARKETPLACE_LOG_FILE"] == str(tmp_path / "logs" / f"{name}.json.log")
        assert env["MARKETPLACE_VARIANT"] == name.removeprefix("marketplace-")


def test_the_sink_gets_its_port_and_the_receivers_alertmanager_names(tmp_path):
    stack = NativeStack(tmp_path, {"alertsink": 40123})

    _, env = stack.command("alertsink")

    config = yaml.safe_load((render.ALERTMANAGER_DIR / "alertmanager.yml").read_text())
    assert env["ALERTSINK_PORT"] == "40123"
    assert env["ALERTSINK_RECEIVERS"].split(",") == [r["name"] for r in config["receivers"]]


def test_make_logs_shows_each_process_log_once_not_the_json_copies(tmp_path, capsys):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "marketplace-v1.log").write_text('{"message": "Search completed"}\n')
    (logs / "marketplace-v1.json.log").write_text('{"message": "Search completed"}\n')

    assert procs.print_logs(logs, 10, follow=False) == 0

    out = capsys.readouterr().out.splitlines()
    assert out == ['  marketplace-v1 | {"message": "Search completed"}']
