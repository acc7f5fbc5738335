"""The native `make up` checks every prerequisite first (ops.stack.preflight): one table with
every problem, exit 1, and no process started.

Ports: each test binds its own free 127.0.0.1 port and hands the launcher free ports (never the
fixed ones in .env, which other stacks may hold); the run directory is a temporary one.
"""

from __future__ import annotations

import socket
from contextlib import closing

import pytest

from ops.stack import launcher, native, preflight
from ops.stack.procs import ProcessTable

pytestmark = pytest.mark.unit


def _free_port() -> int:
    with closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def listener():
    """A socket listening on a free loopback port: the port another program holds."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def nothing_starts(monkeypatch):
    """Every process start goes through ProcessTable.start: record it and refuse to start."""
    started: list[str] = []

    def refuse(self, name, *args, **kwargs):
        started.append(name)
        raise AssertionError(f"{name} was started")

    monkeypatch.setattr(ProcessTable, "start", refuse)
    return started


@pytest.fixture
def free_ports(monkeypatch):
    """The launcher's host ports, all free (what .env would give, on ports nobody holds)."""
    ports = {
        name: _free_port()
        for name in ("alertsink", "marketplace-v1", "marketplace-v2", "alertmanager", "prometheus")
    }
    monkeypatch.setattr(launcher, "host_ports", lambda env=None: dict(ports))
    return ports


@pytest.fixture
def binaries(tmp_path, monkeypatch):
    """PATH holding stub prometheus and prometheus-alertmanager, and nothing else."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("prometheus", "prometheus-alertmanager"):
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    return bin_dir


def _table_rows(err: str) -> list[str]:
    lines = err.strip().splitlines()
    assert lines[0].startswith("native stack: not started, ")
    assert lines[1].split() == ["check", "what", "problem", "fix"]
    assert set(lines[2].replace(" ", "")) == {"-"}
    return lines[3:]


def test_a_taken_port_gives_one_table_and_starts_nothing(
    tmp_path, free_ports, binaries, listener, nothing_starts, monkeypatch, capsys
):
    free_ports["prometheus"] = listener
    run_dir = tmp_path / "run"
    assert native.up(run_dir) == 1
    assert nothing_starts == []
    (row,) = _table_rows(capsys.readouterr().err)
    assert row.startswith("port")
    assert f"prometheus (127.0.0.1:{listener}, PROMETHEUS_HOST_PORT)" in row
    assert "already in use" in row and "PROMETHEUS_HOST_PORT in .env" in row
    assert not (run_dir / "pids").exists()


def test_a_missing_binary_gives_one_table_naming_each_and_starts_nothing(
    tmp_path, free_ports, nothing_starts, monkeypatch, capsys
):
    monkeypatch.setenv("PATH", str(tmp_path))  # neither Prometheus nor Alertmanager
    assert native.up(tmp_path / "run") == 1
    assert nothing_starts == []
    rows = _table_rows(capsys.readouterr().err)
    assert [row.split()[:2] for row in rows] == [
        ["binary", "alertmanager"],
        ["binary", "prometheus"],
    ]
    assert all("apt-get install" in row for row in rows)
    assert "none of prometheus-alertmanager, alertmanager on PATH" in rows[0]


def test_every_problem_is_in_the_same_table(
    tmp_path, free_ports, listener, nothing_starts, monkeypatch, capsys
):
    monkeypatch.setenv("PATH", str(tmp_path))
    free_ports["marketplace-v2"] = listener
    not_a_dir = tmp_path / "run"
    not_a_dir.write_text("a file where the run directory should be")
    assert native.up(not_a_dir) == 1
    assert nothing_starts == []
    err = capsys.readouterr().err
    assert err.count("native stack: not started") == 1
    rows = _table_rows(err)
    assert err.splitlines()[0] == (
        "native stack: not started, 4 problem(s) found before starting anything:"
    )
    assert sorted(row.split()[0] for row in rows) == ["binary", "binary", "port", "run"]
    assert any("MARKETPLACE_V2_HOST_PORT" in row for row in rows)
    assert any("exists but is not a directory" in row for row in rows)


def test_two_components_on_one_port_is_a_problem_before_anything_binds(tmp_path, binaries):
    port = _free_port()
    problems = preflight.port_problems({"prometheus": port, "alertmanager": port})
    assert [(p.check, p.problem) for p in problems] == [("port", "the same port as prometheus")]
    assert "ALERTMANAGER_HOST_PORT" in problems[0].subject


def test_a_component_already_running_keeps_its_port(listener, tmp_path, binaries):
    # A second `make up` finds its own processes on their ports: not a conflict.
    ports = {"prometheus": listener}
    assert preflight.check(ports, tmp_path, ["prometheus"], running={"prometheus"}) == []
    (problem,) = preflight.check(ports, tmp_path, ["prometheus"])
    assert problem.check == "port"


def test_with_everything_in_place_there_is_no_problem(tmp_path, free_ports, binaries):
    components = [*free_ports, "loadgen"]
    assert preflight.check(free_ports, tmp_path / "new" / "run", components) == []


def test_port_in_use_sees_a_listener_and_only_a_listener(listener):
    assert preflight.port_in_use(listener)
    assert not preflight.port_in_use(_free_port())
