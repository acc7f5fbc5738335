"""Render the repository's Prometheus and Alertmanager configs for a run outside compose.

Nothing is copied by hand: the committed files are read, and only these change on the way into
the run directory:
- `<compose service>:<port>` becomes `127.0.0.1:<port of that component in this run>`;
- container paths (`/etc/prometheus/`, `/etc/alertmanager/`, `/run/secrets/`) and the relative
  `rules/` and `templates/` globs become paths into the repository and the run directory;
- scrape targets of components the run does not start (Grafana, Loki, ...) are dropped;
- for tests only, when asked: scrape/evaluation intervals and Alertmanager's route timings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from ops.stack import topology

PROMETHEUS_DIR = topology.REPO_ROOT / "prometheus"
ALERTMANAGER_DIR = topology.REPO_ROOT / "alertmanager"
SECRETS_DIR = ALERTMANAGER_DIR / "secrets"
EXAMPLE_SUFFIX = ".example"
ROUTE_TIMINGS = ("group_wait", "group_interval", "repeat_interval")

_ADDRESS = re.compile(r"(?<![\w.-])([a-z][a-z0-9-]*):(\d+)(?!\d)")


def address_map(ports: Mapping[str, int], env: dict[str, str] | None = None) -> dict[str, str]:
    """`<compose service>:<port>` -> `127.0.0.1:<run port>` for every component given a port."""
    env = env or topology.load_env()
    return {
        topology.internal_address(name, env): f"127.0.0.1:{port}" for name, port in ports.items()
    }


def rewrite_addresses(text: str, addresses: Mapping[str, str]) -> str:
    """Replace each known `<service>:<port>`; unknown ones (e.g. `loki:3100`) stay as they are."""
    return _ADDRESS.sub(lambda m: addresses.get(m.group(0), m.group(0)), text)


def path_map(run_dir: Path) -> dict[str, str]:
    """Container directory prefix -> directory on this machine."""
    return {
        "/etc/prometheus/": f"{PROMETHEUS_DIR}/",
        "/etc/alertmanager/": f"{ALERTMANAGER_DIR}/",
        "/run/secrets/": f"{run_dir / 'secrets'}/",
    }


def rewrite_paths(text: str, paths: Mapping[str, str]) -> str:
    for prefix, local in paths.items():
        if text.startswith(prefix):
            return local + text[len(prefix) :]
    return text


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {key: _map_strings(item, fn) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_strings(item, fn) for item in value]
    return value


def _anchor(pattern: str, base: Path) -> str:
    """A relative file glob in a config is relative to that config's directory."""
    return pattern if Path(pattern).is_absolute() else str(base / pattern)


def _kept_targets(job: dict, hosts: set[str]) -> dict | None:
    """The job with only the static targets whose host the run starts; None if none is left."""
    if "static_configs" not in job:
        return job
    configs = []
    for group in job["static_configs"]:
        targets = [t for t in group.get("targets", []) if t.split(":")[0] in hosts]
        if targets:
            configs.append({**group, "targets": targets})
    return {**job, "static_configs": configs} if configs else None


def render_prometheus(
    source: Path,
    ports: Mapping[str, int],
    run_dir: Path,
    *,
    scrape_interval: str | None = None,
    evaluation_interval: str | None = None,
) -> str:
    """prometheus.yml for this run, as YAML text."""
    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    hosts = set(ports)
    config["scrape_configs"] = [
        kept for job in config.get("scrape_configs", []) if (kept := _kept_targets(job, hosts))
    ]
    if "rule_files" in config:
        config["rule_files"] = [_anchor(p, source.parent) for p in config["rule_files"]]
    if scrape_interval:
        # A job's own timings would outlive the faster global ones, and a timeout longer than
        # the interval is refused at load.
        config.setdefault("global", {})["scrape_interval"] = scrape_interval
        config["global"]["scrape_timeout"] = scrape_interval
        for job in config["scrape_configs"]:
            job.pop("scrape_interval", None)
            job.pop("scrape_timeout", None)
    if evaluation_interval:
        config.setdefault("global", {})["evaluation_interval"] = evaluation_interval
    return _dump(config, ports, run_dir)


def render_alertmanager(
    source: Path,
    ports: Mapping[str, int],
    run_dir: Path,
    *,
    route_timings: Mapping[str, str] | None = None,
) -> str:
    """alertmanager.yml for this run, as YAML text."""
    config = yaml.safe_load(source.read_text(encoding="utf-8"))
    if "templates" in config:
        config["templates"] = [_anchor(p, source.parent) for p in config["templates"]]
    if route_timings:
        _override_timings(config.get("route", {}), route_timings, top=True)
    return _dump(config, ports, run_dir)


def _override_timings(route: dict, timings: Mapping[str, str], *, top: bool) -> None:
    for key, value in timings.items():
        # The root sets every timing; a child route only where it overrode the root.
        if top or key in route:
            route[key] = value
    for child in route.get("routes", []) or []:
        _override_timings(child, timings, top=False)


def _dump(config: dict, ports: Mapping[str, int], run_dir: Path) -> str:
    addresses, paths = address_map(ports), path_map(run_dir)
    config = _map_strings(config, lambda s: rewrite_paths(rewrite_addresses(s, addresses), paths))
    header = "# Rendered by ops/render.py from the committed file; edit that one, not this.\n"
    return header + yaml.safe_dump(config, sort_keys=False, default_flow_style=False)


def render_secrets(
    ports: Mapping[str, int], run_dir: Path, *, prefer_real: bool = False
) -> dict[str, Path]:
    """Write `<run_dir>/secrets/<name>` from `alertmanager/secrets/<name>.example`.

    With `prefer_real`, an operator's real `alertmanager/secrets/<name>` (git-ignored) is used
    verbatim instead, so `make up` talks to real Slack/PagerDuty once those files exist.
    """
    out_dir = run_dir / "secrets"
    out_dir.mkdir(parents=True, exist_ok=True)
    out_dir.chmod(0o700)
    addresses = address_map(ports)
    written: dict[str, Path] = {}
    for example in sorted(SECRETS_DIR.glob(f"*{EXAMPLE_SUFFIX}")):
        name = example.name.removesuffix(EXAMPLE_SUFFIX)
        real = SECRETS_DIR / name
        if prefer_real and real.is_file():
            text = real.read_text(encoding="utf-8")
        else:
            text = rewrite_addresses(example.read_text(encoding="utf-8"), addresses)
        target = out_dir / name
        target.write_text(text, encoding="utf-8")
        target.chmod(0o600)
        written[name] = target
    return written
