"""Where Alertmanager sends the drill's alert: its labels, the receivers the routing tree picks
(amtool on the running config when it is installed, else the tree walked here), and how long the
tree holds a new group (group_wait), from which the drill's default timeout follows.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from ops.promapi import OpsError, get_json, parse_duration
from ops.stack import topology

ALERTMANAGER_CONFIG = topology.REPO_ROOT / "alertmanager" / "alertmanager.yml"
ROUTING_LABELS = ("alertname", "severity", "component")
DEFAULT_GROUP_WAIT = 30.0  # Alertmanager's own default when a route names none
# Beyond group_wait: the notification itself (a retry after a refused one backs off for seconds),
# the sink's bookkeeping and our polling.
TIMEOUT_MARGIN = 30.0


def drill_labels(severity: str, alertname: str, drill_id: str) -> dict[str, str]:
    return {
        "alertname": alertname,
        "severity": severity,
        "component": "marketplace",
        "drill_id": drill_id,
        # Inhibition rules compare `family` (and version): a family of its own keeps a drill from
        # muting, or being muted by, real alerts and other drills.
        "family": f"drill-{drill_id}",
    }


_MATCHER = re.compile(r"""^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"?(.*?)"?\s*$""")


def _matches(route: dict, labels: dict[str, str]) -> bool:
    """Whether a route's matchers (and the older match/match_re) accept these labels."""
    tests: list[tuple[str, str, str]] = []
    for text in route.get("matchers") or []:
        found = _MATCHER.match(str(text))
        if found:
            tests.append(found.groups())
    tests += [(k, "=", str(v)) for k, v in (route.get("match") or {}).items()]
    tests += [(k, "=~", str(v)) for k, v in (route.get("match_re") or {}).items()]
    for name, op, value in tests:
        have = labels.get(name, "")
        hit = have == value if op in ("=", "!=") else re.fullmatch(value, have) is not None
        if hit is (op in ("!=", "!~")):
            return False
    return True


def route_receivers(config: dict, labels: dict[str, str]) -> list[str]:
    """Receivers Alertmanager's routing tree picks for these labels (as amtool walks it)."""

    def walk(route: dict, inherited: str) -> list[str]:
        receiver = route.get("receiver") or inherited
        found: list[str] = []
        for child in route.get("routes") or []:
            if _matches(child, labels):
                found += walk(child, receiver)
                if not child.get("continue", False):
                    break
        return found or [receiver]

    return list(dict.fromkeys(walk(config.get("route") or {}, "")))


def running_config(alertmanager_url: str) -> str | None:
    """The configuration the running Alertmanager loaded (/api/v2/status), None if unavailable."""
    try:
        text = get_json(f"{alertmanager_url}/api/v2/status")["config"]["original"]
    except (OpsError, KeyError, TypeError):
        return None
    return text if isinstance(text, str) and text.strip() else None


def parse_amtool_receivers(output: str) -> list[str]:
    """Receiver names from `amtool config routes test` (comma separated, one line)."""
    line = output.strip().splitlines()[-1] if output.strip() else ""
    return [name.strip() for name in line.split(",") if name.strip()]


def _amtool_receivers(amtool: str, config: Path, labels: dict[str, str]) -> list[str]:
    args = [amtool, "config", "routes", "test", f"--config.file={config}"]
    args += [f"{key}={value}" for key, value in labels.items() if key in ROUTING_LABELS]
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_amtool_receivers(done.stdout) if done.returncode == 0 else []


def expected_receivers(
    labels: dict[str, str],
    config: Path = ALERTMANAGER_CONFIG,
    amtool: str | None = None,
    running: str | None = None,
) -> tuple[list[str], str]:
    """Receivers the routing tree picks for these labels, and where that answer came from.

    `running` is the running Alertmanager's configuration: a deployment that drifted from the
    repository is judged by what it runs. The committed file stands in only when that is unknown.
    """
    amtool = amtool or shutil.which("amtool")
    if running is not None:
        text, where = running, "the running config (/api/v2/status)"
    elif config.exists():
        text, where = config.read_text(encoding="utf-8"), config.name
    else:
        raise OpsError(f"no running Alertmanager config and no {config}: cannot route the drill")
    if amtool:
        with tempfile.TemporaryDirectory(prefix="drill-") as tmp:
            path = Path(tmp) / "alertmanager.yml"
            path.write_text(text, encoding="utf-8")
            names = _amtool_receivers(amtool, path, labels)
        if names:
            return names, f"amtool config routes test on {where}"
    try:
        parsed = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise OpsError(f"{where} is not YAML: {exc}") from exc
    return route_receivers(parsed, labels), f"routing tree of {where} (amtool unavailable)"


def group_wait_seconds(config_text: str | None) -> float | None:
    """The longest group_wait anywhere in a routing tree: a drill waits at most that long."""
    if config_text is None:
        return None
    try:
        root = (yaml.safe_load(config_text) or {}).get("route") or {}
    except (yaml.YAMLError, AttributeError):
        return None
    waits: list[float] = []

    def walk(route: dict, inherited: str) -> None:
        wait = str(route.get("group_wait") or inherited)
        with contextlib.suppress(ValueError):  # a bad duration: Alertmanager refused it anyway
            waits.append(parse_duration(wait))
        for child in route.get("routes") or []:
            walk(child, wait)

    walk(root, f"{DEFAULT_GROUP_WAIT:g}s")
    return max(waits) if waits else None


def default_timeout(group_wait: float | None) -> float:
    """A drill is a group of its own: it is sent once group_wait has passed, plus the margin."""
    wait = DEFAULT_GROUP_WAIT if group_wait is None else group_wait
    return wait + max(TIMEOUT_MARGIN, wait)
