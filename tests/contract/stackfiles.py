"""Reading the committed stack files the way the engines will: .env, compose interpolation, ports.

Shared by the contract tests (and usable by the stack tests). Nothing here touches the network.
"""

from __future__ import annotations

import fnmatch
import re
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from ops.stack import topology

REPO = topology.REPO_ROOT
COMPOSE_FILE = REPO / "compose.yaml"


def _contract_services() -> frozenset[str]:
    """The compose service names docs/contracts.md fixes (they are the host names)."""
    text = (REPO / "docs" / "contracts.md").read_text(encoding="utf-8")
    sentence = text.split("Compose service names are the host names:", 1)[1].split(".\n", 1)[0]
    return frozenset(re.findall(r"`([a-z0-9-]+)`", sentence))


CONTRACT_SERVICES = _contract_services()
# Helpers beside them, no hosts: they have no network.
ONE_SHOT_SERVICES = frozenset({"volume-init"})
HELPER_SERVICES = ONE_SHOT_SERVICES | {"log-rotate"}

# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}, $VAR; `$$` is a literal `$`.
_COMPOSE_VAR = re.compile(
    r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)
# What Loki, Tempo and Promtail expand with -config.expand-env, and the collector's ${env:VAR}.
CONFIG_VAR = re.compile(r"\$\{(?:env:)?([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}")


class Undefined(KeyError):
    """A variable the file needs and .env does not define."""


@cache
def env() -> dict[str, str]:
    return topology.load_env()


def interpolate(text: str, values: dict[str, str] | None = None) -> str:
    """Compose's interpolation of one string (undefined variables without default are errors)."""
    values = env() if values is None else values

    def replace(match: re.Match[str]) -> str:
        if match.group(0) == "$$":
            return "$"
        name = match.group("braced") or match.group("bare")
        op, arg = match.group("op"), match.group("arg")
        value = values.get(name)
        if op in (":-", ":?") and not value:
            value = None
        if value is None:
            if op in (":-", "-"):
                return arg or ""
            raise Undefined(name)
        return value

    return _COMPOSE_VAR.sub(replace, text)


def interpolate_tree(node: Any, values: dict[str, str] | None = None) -> Any:
    if isinstance(node, str):
        return interpolate(node, values)
    if isinstance(node, list):
        return [interpolate_tree(item, values) for item in node]
    if isinstance(node, dict):
        return {key: interpolate_tree(value, values) for key, value in node.items()}
    return node


def compose_variables(node: Any) -> set[str]:
    """Every variable name the compose file interpolates."""
    found: set[str] = set()
    if isinstance(node, str):
        for match in _COMPOSE_VAR.finditer(node):
            name = match.group("braced") or match.group("bare")
            if name:
                found.add(name)
    elif isinstance(node, list):
        for item in node:
            found |= compose_variables(item)
    elif isinstance(node, dict):
        for value in node.values():
            found |= compose_variables(value)
    return found


@cache
def compose_raw() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))


@cache
def compose() -> dict[str, Any]:
    """compose.yaml as the engine sees it: YAML merge keys resolved, .env interpolated."""
    return interpolate_tree(compose_raw())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def load_yaml(relative: str) -> Any:
    return yaml.safe_load((REPO / relative).read_text(encoding="utf-8"))


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict, whichever syntax the file uses."""
    raw = service.get("environment") or {}
    if isinstance(raw, list):
        pairs = (item.partition("=") for item in raw)
        return {key: value for key, _, value in pairs}
    return {key: "" if value is None else str(value) for key, value in raw.items()}


def mounts(service: dict[str, Any]) -> list[dict[str, Any]]:
    """Volumes in long form: type, source, target, read_only."""
    result = []
    for item in service.get("volumes") or []:
        if isinstance(item, dict):
            result.append(
                {
                    "type": item.get("type", "volume"),
                    "source": item.get("source"),
                    "target": item["target"],
                    "read_only": bool(item.get("read_only")),
                }
            )
            continue
        parts = item.split(":")
        source, target = parts[0], parts[1]
        options = parts[2].split(",") if len(parts) > 2 else []
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        result.append(
            {"type": kind, "source": source, "target": target, "read_only": "ro" in options}
        )
    return result


def host_path(service: dict[str, Any], container_path: str) -> Path | None:
    """The repository file behind a container path, through the service's bind mounts."""
    best: tuple[int, Path] | None = None
    for mount in mounts(service):
        if mount["type"] != "bind":
            continue
        target = mount["target"].rstrip("/")
        if container_path == target or container_path.startswith(target + "/"):
            rest = container_path[len(target) :].lstrip("/")
            candidate = (REPO / mount["source"]).resolve() / rest
            if best is None or len(target) > best[0]:
                best = (len(target), candidate)
    return best[1] if best else None


def in_network_ports(service_name: str, values: dict[str, str] | None = None) -> set[str]:
    """The ports .env gives a compose service inside the network (`<PREFIX>_*PORT`, not HOST)."""
    values = env() if values is None else values
    prefix = re.sub(r"_V\d+$", "", service_name.upper().replace("-", "_")) + "_"
    return {
        value
        for key, value in values.items()
        if key.startswith(prefix) and key.endswith("_PORT") and not key.endswith("_HOST_PORT")
    }


# `host:port` as configs write it: a compose-style host name (no dots) or an IPv4 address.
HOST_PORT = re.compile(r"(?<![\w.$@-])((?:\d{1,3}\.){3}\d{1,3}|[a-z][a-z0-9-]*):(\d{2,5})\b")
BIND_ALL = frozenset({"0.0.0.0"})


def host_ports(text: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in HOST_PORT.finditer(text)]


def git_ignored(path: Path) -> bool:
    """Whether git would ignore `path`; from .gitignore alone when this is no git checkout."""
    try:
        result = subprocess.run(
            ["git", "check-ignore", "-q", str(path)], cwd=REPO, check=False, timeout=30
        )
        if result.returncode in (0, 1):
            return result.returncode == 0
    except OSError:
        pass
    relative = str(path.resolve().relative_to(REPO))
    ignored = False
    for raw in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").lstrip("/")
        if fnmatch.fnmatch(relative, pattern) or fnmatch.fnmatch(
            relative, pattern.rstrip("/") + "/*"
        ):
            ignored = not negate
    return ignored
