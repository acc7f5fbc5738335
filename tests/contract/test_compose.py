"""compose.yaml on paper: schema, services, ports, images, mounts and secrets."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import stackfiles as sf

from ops.stack import compose as compose_ops

pytestmark = pytest.mark.contract

CHECK_JSONSCHEMA = [sys.executable, "-m", "check_jsonschema", "--builtin-schema"]


def _schema_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CHECK_JSONSCHEMA, "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_compose_file_is_valid_against_the_compose_spec_schema():
    result = _schema_check(sf.COMPOSE_FILE)
    assert result.returncode == 0, result.stdout + result.stderr


def test_interpolated_compose_file_is_valid_against_the_compose_spec_schema(tmp_path):
    # What the engine validates is the file after .env is substituted.
    rendered = tmp_path / "compose.json"
    rendered.write_text(json.dumps(sf.compose()), encoding="utf-8")
    result = _schema_check(rendered)
    assert result.returncode == 0, result.stdout + result.stderr


def test_services_are_the_ones_the_contract_names():
    assert len(sf.CONTRACT_SERVICES) == 11, "docs/contracts.md's service list did not parse"
    assert set(sf.services()) == sf.CONTRACT_SERVICES | sf.HELPER_SERVICES
    for name in sf.HELPER_SERVICES:
        # Helpers are no hosts: nothing can reach them and they reach nothing.
        assert sf.services()[name].get("network_mode") == "none", name


def test_every_interpolated_variable_is_defined_in_dotenv():
    undefined = []
    raw = sf.compose_raw()
    for name in sorted(sf.compose_variables(raw)):
        if name not in sf.env():
            try:
                sf.interpolate("${" + name + "}")
            except sf.Undefined:
                # Allowed only with an explicit default in the file.
                if not re.search(r"\$\{" + name + r":?-", sf.COMPOSE_FILE.read_text()):
                    undefined.append(name)
    assert undefined == []


def _ports(service: dict) -> list[dict]:
    result = []
    for item in service.get("ports") or []:
        if isinstance(item, dict):
            result.append(
                {
                    "host_ip": item.get("host_ip", ""),
                    "published": str(item.get("published", "")),
                    "target": str(item["target"]),
                }
            )
            continue
        parts = str(item).split(":")
        if len(parts) == 3:
            host_ip, published, target = parts
        elif len(parts) == 2:
            host_ip, (published, target) = "", parts
        else:
            host_ip, published, target = "", "", parts[0]
        result.append({"host_ip": host_ip, "published": published, "target": target})
    return result


def test_every_published_port_binds_loopback_only():
    exposed = [
        (name, port)
        for name, service in sf.services().items()
        for port in _ports(service)
        if port["host_ip"] != "127.0.0.1"
    ]
    assert exposed == []


def test_published_ports_come_from_dotenv_and_match_the_topology():
    for service in sf.compose_raw()["services"].values():
        for item in service.get("ports") or []:
            # No digits outside the loopback address: both ports are ${...} from .env.
            assert re.fullmatch(r"127\.0\.0\.1:\$\{[A-Z0-9_]+\}:\$\{[A-Z0-9_]+\}", str(item)), item
    for component, (port_key, host_key) in sf.topology.COMPONENTS.items():
        ports = _ports(sf.services()[component])
        if host_key is None:
            assert ports == [], f"{component} is not meant to be published"
            continue
        wanted = {
            "host_ip": "127.0.0.1",
            "published": sf.env()[host_key],
            "target": sf.env()[port_key],
        }
        assert wanted in ports, f"{component}: {ports}"


PINS = {
    "PROMETHEUS_IMAGE": r"prom/prometheus:v3\.\d+\.\d+",
    "ALERTMANAGER_IMAGE": r"prom/alertmanager:v0\.3\d\.\d+",
    "GRAFANA_IMAGE": r"grafana/grafana:1[23]\.\d+\.\d+",
    "LOKI_IMAGE": r"grafana/loki:3\.\d+\.\d+",
    "PROMTAIL_IMAGE": r"grafana/promtail:3\.6\.\d+",
    "TEMPO_IMAGE": r"grafana/tempo:2\.10\.\d+",
    "OTEL_COLLECTOR_IMAGE": r"otel/opentelemetry-collector-contrib:0\.\d+\.\d+",
}


@pytest.mark.parametrize("key", sorted(PINS))
def test_upstream_images_are_pinned_in_dotenv(key):
    assert re.fullmatch(PINS[key], sf.env()[key]), sf.env()[key]


def test_every_service_names_its_image_from_dotenv_with_an_exact_tag():
    for name, service in sf.compose_raw()["services"].items():
        image = service.get("image", "")
        assert re.fullmatch(r"\$\{[A-Z_]+_IMAGE\}", image), f"{name}: {image!r} not from .env"
    for name, service in sf.services().items():
        image = service["image"]
        repo, _, tag = image.rpartition(":")
        assert repo and "/" not in tag, f"{name}: {image} has no tag"
        assert tag != "latest" and re.match(r"v?\d", tag), f"{name}: {image} is not pinned"


def test_built_images_have_a_dockerfile_and_are_never_pulled():
    for name, service in sf.services().items():
        if "build" not in service:
            continue
        context = sf.REPO / (
            service["build"] if isinstance(service["build"], str) else service["build"]["context"]
        )
        assert (context / "Dockerfile").is_file(), f"{name}: no Dockerfile in {context}"
        assert service.get("pull_policy") == "build", name


def test_every_bind_mount_exists_and_is_read_only():
    for name, service in sf.services().items():
        for mount in sf.mounts(service):
            if mount["type"] != "bind":
                continue
            assert (sf.REPO / mount["source"]).exists(), f"{name}: {mount['source']} is missing"
            assert mount["read_only"], f"{name}: {mount['source']} is mounted writable"


def test_every_config_file_a_command_names_is_mounted_and_exists():
    checked = 0
    for name, service in sf.services().items():
        for arg in [*(service.get("command") or []), *(service.get("entrypoint") or [])]:
            if not isinstance(arg, str):
                continue
            match = re.search(r"config\.file=(/\S+)|--config=(/\S+)", arg)
            if not match:
                continue
            path = sf.host_path(service, match.group(1) or match.group(2))
            assert path is not None and path.is_file(), f"{name}: {arg} is not a mounted file"
            checked += 1
    assert checked >= 6  # prometheus, alertmanager, loki, tempo, promtail, collector


def test_secret_files_exist_or_are_generated_and_git_ignored():
    for name, secret in sf.compose()["secrets"].items():
        path = (sf.REPO / secret["file"]).resolve()
        if path == compose_ops.GRAFANA_PASSWORD_FILE:
            # Generated by `make up`; it must never be committed.
            assert sf.git_ignored(path), f"{path} is not git-ignored"
            continue
        assert path.is_file(), f"secret {name}: {path} is missing"


def test_every_secret_a_service_uses_is_declared():
    declared = set(sf.compose().get("secrets") or {})
    for name, service in sf.services().items():
        for secret in service.get("secrets") or []:
            source = secret if isinstance(secret, str) else secret["source"]
            assert source in declared, f"{name}: secret {source} is not declared"
