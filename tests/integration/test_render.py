"""The native launcher's rendering of the committed configs: only addresses, paths, Docker-only
scrape jobs and (when asked) timings change, and the results pass promtool and amtool.

No stack is started (files only), so these are unit tests: `make test-unit` runs them.
"""

from __future__ import annotations

import subprocess

import pytest
import yaml

from ops.stack import render, topology
from tests.conftest import require_binary

pytestmark = pytest.mark.unit

PORTS = dict(zip(topology.NATIVE_COMPONENTS, (41001, 41002, 41003, 41004, 41005), strict=True))
AM_SOURCE = render.ALERTMANAGER_DIR / "alertmanager.yml"
PROM_SOURCE = render.PROMETHEUS_DIR / "prometheus.yml"


@pytest.fixture
def run_dir(tmp_path):
    render.render_secrets(PORTS, tmp_path)
    return tmp_path


def compose_addresses() -> set[str]:
    env = topology.load_env()
    return {topology.internal_address(name, env) for name in topology.NATIVE_COMPONENTS}


def test_addresses_of_native_components_become_loopback_ports():
    mapping = render.address_map(PORTS)
    text = "http://alertsink:9099/slack/x alertmanager:9093 loki:3100 my-prometheus:9090x"

    out = render.rewrite_addresses(text, mapping)

    assert out == (
        f"http://127.0.0.1:{PORTS['alertsink']}/slack/x 127.0.0.1:{PORTS['alertmanager']} "
        "loki:3100 my-prometheus:9090x"
    )
    assert set(mapping) == compose_addresses()


def test_prometheus_config_keeps_its_jobs_minus_docker_only_ones(run_dir):
    committed = yaml.safe_load(PROM_SOURCE.read_text())
    text = render.render_prometheus(PROM_SOURCE, PORTS, run_dir)
    rendered = yaml.safe_load(text)

    kept = {job["job_name"] for job in rendered["scrape_configs"]}
    assert kept == {j["job_name"] for j in committed["scrape_configs"]} - set(topology.DOCKER_ONLY)
    assert not any(address in text for address in compose_addresses())
    assert rendered["global"] == committed["global"]  # no timing override unless asked
    for pattern in rendered["rule_files"]:
        assert pattern.startswith(str(render.PROMETHEUS_DIR))
    marketplace = next(j for j in rendered["scrape_configs"] if j["job_name"] == "marketplace")
    assert [g["labels"]["version"] for g in marketplace["static_configs"]] == ["v1", "v2"]


def test_test_intervals_override_global_timings_only_when_asked(run_dir):
    text = render.render_prometheus(
        PROM_SOURCE, PORTS, run_dir, scrape_interval="1s", evaluation_interval="1s"
    )
    glob = yaml.safe_load(text)["global"]
    assert (glob["scrape_interval"], glob["scrape_timeout"], glob["evaluation_interval"]) == (
        "1s",
        "1s",
        "1s",
    )


def test_alertmanager_config_points_at_the_run_secrets_and_loopback(run_dir):
    committed = yaml.safe_load(AM_SOURCE.read_text())
    text = render.render_alertmanager(
        AM_SOURCE, PORTS, run_dir, route_timings={"group_wait": "1s", "group_interval": "5s"}
    )
    rendered = yaml.safe_load(text)

    assert "/run/secrets/" not in text
    assert not any(address in text for address in compose_addresses())
    assert [r["name"] for r in rendered["receivers"]] == [r["name"] for r in committed["receivers"]]
    assert rendered["route"]["group_wait"] == "1s"
    assert rendered["route"]["group_interval"] == "5s"
    assert rendered["route"]["repeat_interval"] == committed["route"]["repeat_interval"]
    assert rendered["route"]["receiver"] == committed["route"]["receiver"]


def test_secret_examples_are_rendered_private_and_pointing_at_the_sink(run_dir):
    examples = sorted(render.SECRETS_DIR.glob("*.example"))
    assert examples, "alertmanager/secrets/*.example are missing"
    for example in examples:
        rendered = run_dir / "secrets" / example.name.removesuffix(".example")
        assert rendered.stat().st_mode & 0o777 == 0o600
        assert not any(address in rendered.read_text() for address in compose_addresses())


def test_rendered_configs_pass_promtool_and_amtool(run_dir):
    promtool, amtool = require_binary("promtool"), require_binary("amtool")
    (run_dir / "prometheus.yml").write_text(render.render_prometheus(PROM_SOURCE, PORTS, run_dir))
    (run_dir / "alertmanager.yml").write_text(render.render_alertmanager(AM_SOURCE, PORTS, run_dir))

    for argv in (
        [promtool, "check", "config", str(run_dir / "prometheus.yml")],
        [amtool, "check-config", str(run_dir / "alertmanager.yml")],
    ):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
