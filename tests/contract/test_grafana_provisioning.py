"""Grafana on paper, provisioning: the datasources and the dashboards provider.

Grafana cannot run here, so these tests hold the files to what Grafana does with them: provisioning
values go through Grafana's env interpolation (`$$` is a literal `$`); the datasources are the
contract's uids on the compose services' ports; the provider reads where compose mounts the files.
"""

import re
from pathlib import Path

import pytest
import yaml
from grafanafiles import (
    CONTRACTS,
    DATASOURCES_FILE,
    GRAFANA,
    LOKI_LABELS,
    PROVIDER_FILE,
    REPO,
    datasources,
    grafana_interpolate,
    port_variables,
    provisioned,
)

from ops.stack.topology import COMPONENTS, load_env

pytestmark = pytest.mark.contract


# ------------------------------------------------------------------------------ datasources


def test_datasources_have_the_contract_uids_and_types():
    found = {uid: ds["type"] for uid, ds in datasources().items()}
    assert found == {
        "prometheus": "prometheus",
        "loki": "loki",
        "tempo": "tempo",
        "alertmanager": "alertmanager",
    }
    assert [uid for uid, ds in datasources().items() if ds.get("isDefault")] == ["prometheus"]
    assert datasources()["alertmanager"]["jsonData"]["implementation"] == "prometheus"


def test_datasource_urls_are_compose_services_on_env_ports():
    raw = yaml.safe_load(DATASOURCES_FILE.read_text(encoding="utf-8"))["datasources"]
    for ds in raw:
        match = re.fullmatch(r"http://([a-z0-9-]+):\$\{(\w+)\}", ds["url"])
        assert match, f"{ds['uid']}: url {ds['url']!r} is not http://<service>:${{<PORT>}}"
        host, variable = match.groups()
        assert host in COMPONENTS, f"{ds['uid']}: {host} is not a compose service"
        assert variable == COMPONENTS[host][0], f"{ds['uid']}: {host} listens on {variable}"
        assert datasources()[ds["uid"]]["url"] == f"http://{host}:{load_env()[variable]}"


def test_datasources_are_cross_linked():
    ds = datasources()
    exemplars = ds["prometheus"]["jsonData"]["exemplarTraceIdDestinations"]
    # The exemplar label the service puts on its histograms (docs/contracts.md).
    assert "Exemplar label: `trace_id`" in CONTRACTS
    assert "trace_id" in [e["name"] for e in exemplars]
    assert {e["datasourceUid"] for e in exemplars} == {"tempo"}

    derived = ds["loki"]["jsonData"]["derivedFields"]
    assert [(f["matcherType"], f["matcherRegex"], f["datasourceUid"]) for f in derived] == [
        ("label", "trace_id", "tempo")
    ]
    assert derived[0]["url"] == "${__value.raw}"

    tempo = ds["tempo"]["jsonData"]
    logs = tempo["tracesToLogsV2"]
    assert logs["datasourceUid"] == "loki" and logs["filterByTraceID"] is True
    assert {tag.get("value", tag["key"]) for tag in logs["tags"]} <= LOKI_LABELS
    metrics = tempo["tracesToMetrics"]
    assert metrics["datasourceUid"] == "prometheus"
    assert metrics["queries"] and all("{$__tags}" in q["query"] for q in metrics["queries"])
    assert tempo["serviceMap"]["datasourceUid"] == "prometheus"
    assert tempo["nodeGraph"]["enabled"] is True


def test_prometheus_time_interval_is_the_scrape_interval():
    prometheus_yml = REPO / "prometheus" / "prometheus.yml"
    assert prometheus_yml.is_file(), "prometheus/prometheus.yml is missing"
    scrape = yaml.safe_load(prometheus_yml.read_text(encoding="utf-8"))["global"]
    assert datasources()["prometheus"]["jsonData"]["timeInterval"] == scrape["scrape_interval"]


@pytest.mark.parametrize("path", [DATASOURCES_FILE, PROVIDER_FILE], ids=lambda p: p.name)
def test_provisioning_dollars_are_escaped(path):
    # Grafana may look up nothing but the .env ports; an unescaped ${__value.raw} would be
    # looked up too, and silently become "".
    looked_up = set()
    provisioned(path, looked_up=looked_up)
    allowed = {port for port, _ in COMPONENTS.values()} if path == DATASOURCES_FILE else set()
    assert looked_up <= allowed, f"{path.name} interpolates {sorted(looked_up - allowed)}"


def test_escaping_model_matches_grafana():
    assert grafana_interpolate("$${__value.raw}", lambda n: "X") == "${__value.raw}"
    assert grafana_interpolate("${__value.raw}", lambda n: "") == ""
    assert grafana_interpolate("{$$__tags}", lambda n: "X") == "{$__tags}"
    assert grafana_interpolate("$HOME/x", lambda n: "/h") == "/h/x"
    assert grafana_interpolate("cost $ 5", lambda n: "X") == "cost $ 5"


# ------------------------------------------------------------------------ dashboards provider


def container_mounts(service: dict) -> list[tuple[Path, str]]:
    """(host path, container path) of the service's bind mounts."""
    mounts = []
    for volume in service.get("volumes", []):
        if isinstance(volume, str):
            source, _, rest = volume.partition(":")
            target = rest.split(":")[0]
        else:
            source, target = volume.get("source", ""), volume.get("target", "")
        if source.startswith((".", "/")):
            mounts.append(((REPO / source).resolve(), target))
    return mounts


def in_container(host_path: Path, mounts) -> str | None:
    for source, target in sorted(mounts, key=lambda m: len(str(m[0])), reverse=True):
        if host_path == source or source in host_path.parents:
            return target.rstrip("/") + "/" + str(host_path.relative_to(source)).strip(".")
    return None


def test_provider_puts_the_dashboards_in_the_marketplace_folder():
    providers = provisioned(PROVIDER_FILE)["providers"]
    assert len(providers) == 1
    provider = providers[0]
    assert provider["type"] == "file" and provider["folder"] == "Marketplace"
    assert not provider["options"].get("foldersFromFilesStructure")
    assert provider["options"]["path"].startswith("/")


def test_provider_path_is_where_compose_mounts_the_dashboards():
    compose_file = REPO / "compose.yaml"
    assert compose_file.is_file(), "compose.yaml is missing: the mount cannot be compared"
    compose = yaml.safe_load(compose_file.read_text(encoding="utf-8"))
    grafana = compose["services"]["grafana"]
    mounts = container_mounts(grafana)
    path = provisioned(PROVIDER_FILE)["providers"][0]["options"]["path"].rstrip("/")
    assert in_container(GRAFANA / "dashboards", mounts).rstrip("/") == path
    root = grafana_environment(grafana).get("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning")
    for kind, file in [("datasources", DATASOURCES_FILE), ("dashboards", PROVIDER_FILE)]:
        assert in_container(file, mounts) == f"{root.rstrip('/')}/{kind}/{file.name}"


def grafana_environment(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    return dict(item.split("=", 1) for item in env) if isinstance(env, list) else env


def test_compose_gives_grafana_the_ports_its_datasources_read():
    compose_file = REPO / "compose.yaml"
    assert compose_file.is_file(), "compose.yaml is missing: the environment cannot be compared"
    grafana = yaml.safe_load(compose_file.read_text(encoding="utf-8"))["services"]["grafana"]
    env = grafana_environment(grafana)
    missing = {name for name in port_variables() if env.get(name) != f"${{{name}}}"}
    assert not missing, f"compose.yaml grafana.environment lacks {sorted(missing)} (from .env)"
