"""Every `host:port` a config names is a compose service listening on that port per .env.

Configs that can read the environment write `${PORT_VAR}`; those are resolved from .env first,
and every variable they expand must be one compose passes into that container.
"""

from __future__ import annotations

import fnmatch
import glob
import re
from pathlib import Path

import pytest
import stackfiles as sf

pytestmark = pytest.mark.contract

# file (glob, relative to the repo) -> compose service that reads it
CONFIGS = {
    "prometheus/prometheus.yml": "prometheus",
    "alertmanager/alertmanager.yml": "alertmanager",
    "alertmanager/secrets/*.example": "alertmanager",
    "otel-collector/config.yaml": "otel-collector",
    "tempo/tempo.yaml": "tempo",
    "loki/loki.yaml": "loki",
    "promtail/promtail.yaml": "promtail",
    "grafana/provisioning/**/*.yaml": "grafana",
}
# Files whose ${VAR} the component expands itself (with -config.expand-env or ${env:VAR}).
SELF_EXPANDING = {
    "otel-collector/config.yaml": "otel-collector",
    "tempo/tempo.yaml": "tempo",
    "loki/loki.yaml": "loki",
    "promtail/promtail.yaml": "promtail",
}


def _files() -> list[tuple[str, str]]:
    found = []
    for pattern, service in CONFIGS.items():
        for path in sorted(glob.glob(str(sf.REPO / pattern), recursive=True)):
            found.append((str(Path(path).relative_to(sf.REPO)), service))
    return found


def _strip_comments(text: str) -> str:
    return "\n".join(
        line.split(" #")[0] for line in text.splitlines() if not line.lstrip().startswith("#")
    )


def _resolved(text: str) -> str:
    # Grafana's `$$` is a literal `$` (never a variable); ${VAR} and ${env:VAR} come from .env.
    text = text.replace("$$", "\0")
    return sf.CONFIG_VAR.sub(lambda m: sf.env().get(m.group(1), m.group(0)), text).replace(
        "\0", "$"
    )


def _references(text: str) -> list[tuple[str, str]]:
    return [
        hp for hp in sf.host_ports(_resolved(_strip_comments(text))) if hp[0] not in sf.BIND_ALL
    ]


def test_the_configs_exist():
    present = {path for path, _ in _files()}
    for pattern in CONFIGS:
        assert any(fnmatch.fnmatch(p, pattern) for p in present), f"nothing matches {pattern}"


@pytest.mark.parametrize(("path", "reader"), _files())
def test_every_host_port_in_a_config_is_a_compose_service_and_its_port(path, reader):
    text = (sf.REPO / path).read_text(encoding="utf-8")
    wrong = []
    for host, port in _references(text):
        if host not in sf.CONTRACT_SERVICES:
            wrong.append(f"{host}:{port} (not a compose service)")
        elif port not in sf.in_network_ports(host):
            wanted = sorted(sf.in_network_ports(host))
            wrong.append(f"{host}:{port} (.env gives {host} {wanted})")
    assert wrong == [], f"{path} (read by {reader})"


def test_the_configs_do_name_the_components_they_talk_to():
    # Guards the scan above against a regex that silently matches nothing.
    expected = {
        "prometheus/prometheus.yml": {
            "marketplace-v1",
            "marketplace-v2",
            "alertmanager",
            "otel-collector",
        },
        "otel-collector/config.yaml": {"tempo"},
        "tempo/tempo.yaml": {"prometheus"},
        "promtail/promtail.yaml": {"loki"},
    }
    for path, hosts in expected.items():
        text = (sf.REPO / path).read_text(encoding="utf-8")
        assert hosts <= {h for h, _ in _references(text)}, path


@pytest.mark.parametrize(("path", "service"), sorted(SELF_EXPANDING.items()))
def test_every_variable_a_config_expands_is_passed_in_by_compose(path, service):
    text = _strip_comments((sf.REPO / path).read_text(encoding="utf-8"))
    names = set(sf.CONFIG_VAR.findall(text))
    assert names, f"{path} expands no variable: its ports would be written twice"
    passed = sf.environment(sf.compose_raw()["services"][service])
    missing = sorted(n for n in names if n not in passed)
    assert missing == [], f"{path} needs {missing} in {service}'s environment"
    for name in names:
        # Passed straight from .env, so the value the config sees is the one .env holds.
        assert passed[name] == "${" + name + "}", (name, passed[name])
    # A `$` the engine would try to expand but that is no variable reference breaks the load.
    leftover = sf.CONFIG_VAR.sub("", text)
    assert "$" not in leftover, f"{path} has a stray `$`"


# The collector expands `${env:VAR}` in its config resolver itself: it has no flag to turn on.
FLAG_EXPANDING = sorted(set(SELF_EXPANDING.values()) - {"otel-collector"})


@pytest.mark.parametrize("service", FLAG_EXPANDING)
def test_services_with_self_expanding_configs_turn_expansion_on(service):
    command = sf.services()[service].get("command") or []
    assert "-config.expand-env=true" in command


def test_the_collector_config_uses_only_its_resolvers_env_syntax():
    """Without a flag, only `${env:VAR}` is certain to be the environment's: a bare `${VAR}` or
    `$VAR` depends on the resolver's default scheme, which the collector has changed before."""
    text = _strip_comments((sf.REPO / "otel-collector/config.yaml").read_text(encoding="utf-8"))
    references = re.findall(r"\$\{[^}]*\}|\$\w+", text)
    assert references, "the collector config expands no variable"
    assert [r for r in references if not r.startswith("${env:")] == []
    command = sf.services()["otel-collector"].get("command") or []
    assert not [arg for arg in command if "expand-env" in arg]


def _own_host_port(service: str) -> str | None:
    _, host_key = sf.topology.COMPONENTS.get(service, (None, None))
    return sf.env().get(host_key) if host_key else None


def test_compose_environment_values_name_only_compose_services():
    wrong = []
    for name, service in sf.services().items():
        for key, value in sf.environment(service).items():
            for host, port in sf.host_ports(value):
                if host in sf.BIND_ALL:
                    continue
                if host == "127.0.0.1" and port == _own_host_port(name):
                    continue  # a URL for the browser, e.g. Grafana's root_url
                if host not in sf.CONTRACT_SERVICES or port not in sf.in_network_ports(host):
                    wrong.append(f"{name}: {key}={value}")
    assert wrong == []
