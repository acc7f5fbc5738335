"""The one reader of the Prometheus rule files (prometheus/rules/*.yml) for ops/ and the tests.

`rules()` yields each rule with its file and group, in file order: the checklist compares them
with what Prometheus loaded, the SLO review reads its objectives from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import yaml

from ops.stack import topology

RULES_DIR = topology.REPO_ROOT / "prometheus" / "rules"


def rule_files(rules_dir: Path = RULES_DIR) -> list[Path]:
    return sorted(rules_dir.glob("*.yml"))


def rules(files: Iterable[Path] | None = None) -> Iterator[tuple[Path, str, dict]]:
    """(file, group name, rule) for every rule of `files` (default: every committed rule file)."""
    for path in rule_files() if files is None else files:
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for group in doc.get("groups") or []:
            for rule in group.get("rules") or []:
                yield path, group.get("name", ""), rule
