"""compose.yaml on paper: volumes, users, memory, health, start order, log rotation."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

import pytest
import stackfiles as sf

pytestmark = pytest.mark.contract


DATA_VOLUMES = {
    "prometheus": "/prometheus",
    "alertmanager": "/alertmanager",
    "loki": "/loki",
    "tempo": "/var/tempo",
    "grafana": "/var/lib/grafana",
}


@pytest.mark.parametrize("service_name", sorted(DATA_VOLUMES))
def test_data_lives_on_a_named_volume(service_name):
    service = sf.services()[service_name]
    targets = {m["target"]: m for m in sf.mounts(service) if m["type"] == "volume"}
    mount = targets.get(DATA_VOLUMES[service_name])
    assert mount is not None, f"{service_name}: no named volume at {DATA_VOLUMES[service_name]}"
    assert mount["source"] in sf.compose()["volumes"]
    assert not mount["read_only"]


def test_data_paths_in_commands_and_configs_are_on_those_volumes():
    assert "--storage.tsdb.path=/prometheus" in sf.services()["prometheus"]["command"]
    assert "--storage.path=/alertmanager" in sf.services()["alertmanager"]["command"]
    loki = sf.load_yaml("loki/loki.yaml")
    assert loki["common"]["path_prefix"] == "/loki"
    tempo = sf.load_yaml("tempo/tempo.yaml")
    paths = [
        tempo["storage"]["trace"]["wal"]["path"],
        tempo["storage"]["trace"]["local"]["path"],
        tempo["metrics_generator"]["storage"]["path"],
        tempo["metrics_generator"]["traces_storage"]["path"],
    ]
    assert all(p.startswith("/var/tempo/") for p in paths), paths


def test_promtail_positions_and_service_logs_are_shared_through_named_volumes():
    services = sf.services()
    promtail = sf.load_yaml("promtail/promtail.yaml")
    positions_dir = str(Path(promtail["positions"]["filename"]).parent)
    promtail_mounts = {m["target"]: m for m in sf.mounts(services["promtail"])}
    assert promtail_mounts[positions_dir]["type"] == "volume"
    assert not promtail_mounts[positions_dir]["read_only"]

    log_volumes = set()
    for variant in ("marketplace-v1", "marketplace-v2"):
        log_file = sf.environment(services[variant])["MARKETPLACE_LOG_FILE"]
        log_dir = str(Path(log_file).parent)
        mount = {m["target"]: m for m in sf.mounts(services[variant])}[log_dir]
        assert mount["type"] == "volume" and not mount["read_only"], variant
        log_volumes.add(mount["source"])
        # Promtail sees the same volume, read-only, and its glob picks this file up.
        theirs = [m for m in promtail_mounts.values() if m["source"] == mount["source"]]
        assert theirs and theirs[0]["read_only"], "promtail does not mount the service logs"
        promtail_path = theirs[0]["target"] + log_file[len(log_dir) :]
        globs = [
            sc_static["labels"]["__path__"]
            for sc in promtail["scrape_configs"]
            for sc_static in sc["static_configs"]
        ]
        assert any(fnmatch.fnmatch(promtail_path, g) for g in globs), (promtail_path, globs)
    assert len(log_volumes) == 1


def test_every_service_has_a_memory_limit():
    for name, service in sf.services().items():
        limit = service.get("deploy", {}).get("resources", {}).get("limits", {}).get("memory")
        assert limit or service.get("mem_limit"), f"{name} has no memory limit"


def test_long_running_services_are_not_root():
    for name, service in sf.services().items():
        user = str(service.get("user", ""))
        if name in sf.ONE_SHOT_SERVICES:
            # The volume fixer is the single root exception: no network, runs once.
            assert service.get("network_mode") == "none" and service.get("restart") == "no"
            continue
        uid = user.split(":")[0]
        assert uid and uid not in ("0", "root"), f"{name} runs as {user or 'the image default'}"


def test_volume_init_hands_every_volume_it_touches_to_the_users_that_write_them():
    init = sf.services()["volume-init"]
    command = " ".join(init["command"])
    owner = re.search(r"chown (\d+):(\d+)", command).group(1)
    for mount in sf.mounts(init):
        assert mount["target"] in command, mount
        writers = [
            name
            for name, service in sf.services().items()
            if name != "volume-init"
            and any(
                m["source"] == mount["source"] and not m["read_only"] for m in sf.mounts(service)
            )
        ]
        assert writers, mount
        for writer in writers:
            assert str(sf.services()[writer]["user"]).split(":")[0] == owner, writer


# The images without a shell or HTTP client (scratch/distroless, Tempo 2.x lacks -health), and the
# ones that serve nothing. compose.yaml says why beside each.
WITHOUT_HEALTHCHECK = {"otel-collector", "tempo", "loadgen", "volume-init", "log-rotate"}


def _has_healthcheck(service: dict) -> bool:
    check = service.get("healthcheck")
    return bool(check) and not check.get("disable")


def test_healthchecks_everywhere_the_image_can_run_one():
    missing = {name for name, s in sf.services().items() if not _has_healthcheck(s)}
    assert missing == WITHOUT_HEALTHCHECK
    text = sf.COMPOSE_FILE.read_text(encoding="utf-8")
    for name in ("otel-collector", "tempo", "loadgen", "log-rotate"):
        block = text.split(f"\n  {name}:\n")[0].rsplit("\n\n", 1)[-1]
        assert "healthcheck" in block.lower(), f"no comment says why {name} has no healthcheck"


def test_no_service_inherits_an_image_healthcheck_for_a_process_it_does_not_run():
    # Without a `healthcheck:` of its own a container runs its image's HEALTHCHECK: loadgen reuses
    # the service image, whose check polls a port the load generator never opens.
    # The image may be built by another service (one build, several users).
    contexts = {
        s["image"]: s["build"] if isinstance(s["build"], str) else s["build"]["context"]
        for s in sf.services().values()
        if "build" in s
    }
    checked = 0
    for name, service in sf.services().items():
        context = contexts.get(service["image"])
        if context is None or "test" in (service.get("healthcheck") or {}):
            continue
        checked += 1
        dockerfile = (sf.REPO / context / "Dockerfile").read_text(encoding="utf-8")
        if re.search(r"^HEALTHCHECK\s+(?!NONE)", dockerfile, re.MULTILINE):
            assert service.get("healthcheck", {}).get("disable") is True, name
    assert checked >= 1  # loadgen


def test_healthcheck_commands_use_tools_the_images_have():
    tools = {
        "prometheus": "wget",  # busybox
        "alertmanager": "wget",  # busybox
        "grafana": "curl",  # installed on both the Alpine and the Ubuntu image
        "loki": "/usr/bin/loki",  # distroless: the binary's own -health flag (3.7+)
        "promtail": "bash",  # ubuntu: no wget/curl since 3.4
        "marketplace-v1": "python",
        "marketplace-v2": "python",
        "alertsink": "python",
    }
    for name, tool in tools.items():
        test = sf.services()[name]["healthcheck"]["test"]
        assert test[0] == "CMD" and test[1] == tool, (name, test)


def test_depends_on_uses_conditions_that_can_be_met():
    services = sf.services()
    for name, service in services.items():
        depends = service.get("depends_on") or {}
        assert isinstance(depends, dict), f"{name}: depends_on without conditions"
        for target, spec in depends.items():
            assert target in services, f"{name} depends on unknown {target}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits on {target}'s health"
            if condition == "service_completed_successfully":
                assert target in sf.ONE_SHOT_SERVICES


def test_start_order_has_no_cycle():
    graph = {name: set(s.get("depends_on") or {}) for name, s in sf.services().items()}
    done: set[str] = set()
    while graph:
        ready = [name for name, deps in graph.items() if deps <= done]
        assert ready, f"cycle among {sorted(graph)}"
        for name in ready:
            done.add(name)
            del graph[name]


def test_log_rotation_renames_out_of_promtails_glob():
    services = sf.services()
    promtail = sf.load_yaml("promtail/promtail.yaml")
    (glob_pattern,) = [
        s["labels"]["__path__"] for s in promtail["scrape_configs"][0]["static_configs"]
    ]
    rotate = services["log-rotate"]
    script = rotate["command"][0]
    log_dir = str(Path(glob_pattern).parent)
    assert {m["target"] for m in sf.mounts(rotate)} == {log_dir}
    assert f"for f in {glob_pattern}; do" in script
    assert re.search(r"-gt \d+\b", script), "no size threshold after interpolation"
    rotated = re.search(r'mv -f "\$f" "\$f(\.[\w.]+)"', script).group(1)
    # A rotated file must not be picked up again as a new file (duplicate lines in Loki).
    assert not fnmatch.fnmatch(f"{log_dir}/marketplace-v1.log{rotated}", glob_pattern)
    for variant in ("marketplace-v1", "marketplace-v2"):
        log_file = sf.environment(services[variant])["MARKETPLACE_LOG_FILE"]
        assert fnmatch.fnmatch(log_file, glob_pattern), log_file
