"""ops/compose.py without Docker: the password file, the probes, the bounded wait, the URL table."""

from __future__ import annotations

import http.server
import socket
import stat
import subprocess
import threading

import pytest
import stackfiles as sf

from ops.stack import compose, topology

pytestmark = pytest.mark.contract


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200

    def _answer(self):
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = _answer
    do_POST = _answer

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.status = 200  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_grafana_password_is_generated_once_private_dir_readable_file(tmp_path):
    path = tmp_path / "secrets" / "admin_password"
    assert compose.ensure_grafana_password(path) is True
    first = path.read_text()
    assert len(first.strip()) >= 24
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert compose.ensure_grafana_password(path) is False
    assert path.read_text() == first


def test_the_generated_password_file_is_git_ignored():
    assert sf.git_ignored(compose.GRAFANA_PASSWORD_FILE)


def test_every_published_component_has_a_probe_and_the_rest_are_watched_by_compose():
    probed = {p.component for p in compose.PROBES}
    published = {c for c, (_, host_key) in topology.COMPONENTS.items() if host_key}
    unpublished = {c for c, (_, host_key) in topology.COMPONENTS.items() if not host_key}
    assert probed == published
    assert set(compose.UNPUBLISHED) == unpublished


def test_probe_reports_ready_only_on_200(server, monkeypatch):
    monkeypatch.setenv("LOKI_URL", f"http://127.0.0.1:{server.server_port}")
    spec = compose.Probe("loki", "/ready")
    assert compose.probe(spec) == (True, "ready")
    server.status = 503
    assert compose.probe(spec) == (False, "HTTP 503")


def test_probe_survives_a_closed_port(monkeypatch):
    monkeypatch.setenv("TEMPO_URL", f"http://127.0.0.1:{_free_port()}")
    ready, reason = compose.probe(compose.Probe("tempo", "/ready"), timeout=1)
    assert not ready and reason == "ConnectionError"


def test_wait_ready_stops_at_its_deadline(monkeypatch):
    monkeypatch.setenv("TEMPO_URL", f"http://127.0.0.1:{_free_port()}")
    monkeypatch.setattr(compose, "UNPUBLISHED", ())
    state = compose.wait_ready([compose.Probe("tempo", "/ready")], timeout=0.5, interval=0.1)
    assert state == {"tempo": "ConnectionError"}


def test_wait_ready_returns_as_soon_as_all_answer(server, monkeypatch):
    monkeypatch.setenv("GRAFANA_URL", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setattr(compose, "container_health", lambda name: "healthy")
    state = compose.wait_ready([compose.Probe("grafana", "/api/health")], timeout=30)
    assert state == {"grafana": "ready", "promtail": "healthy"}


@pytest.mark.parametrize(
    "output",
    [
        '{"Service":"promtail","State":"running","Health":"healthy"}\n',
        '[{"Service":"promtail","State":"running","Health":"healthy"}]',
    ],
)
def test_container_health_reads_both_ps_formats(output, monkeypatch):
    done = subprocess.CompletedProcess([], 0, stdout=output, stderr="")
    monkeypatch.setattr(compose, "run_compose", lambda *args, **kwargs: done)
    assert compose.container_health("promtail") == "healthy"


def test_url_table_lists_every_component_at_its_host_url(monkeypatch):
    monkeypatch.setenv("GRAFANA_URL", "http://stack.example:3000")
    table = compose.url_table({"grafana": "ready"})
    assert "http://stack.example:3000" in table
    for spec in compose.PROBES:
        assert topology.host_url(spec.component) in table
    assert "promtail" in table


def test_up_refuses_clearly_without_a_compose_engine(monkeypatch, capsys):
    monkeypatch.setattr(compose, "compose_available", lambda: "no Docker engine answers")
    assert compose.up() == 1
    assert "no Docker engine answers" in capsys.readouterr().err
