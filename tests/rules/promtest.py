"""Generated promtool unit tests: series builders, annotation rendering, one promtool run.

Used by thresholds.py and healthy.py, whose test cases are computed from tables written from the
spec rather than typed out; this module writes them as one promtool test file, runs promtool once
and hands back each test group's failure (promtool names every failing group).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import rulefiles as rf
import yaml

# --- input series --------------------------------------------------------------------------------


def counter(*segments: tuple[float, int], start: float = 0.0) -> str:
    """promtool `values` of a counter growing by `step` per sample for `samples` samples, segment
    after segment; a segment with a step of None restarts the counter at 0 (a process restart)."""
    parts, value = [], start
    for step, samples in segments:
        if step is None:
            value = 0.0
            continue
        parts.append(f"{_num(value)}+{_num(step)}x{samples}")
        value += step * (samples + 1)
    return " ".join(parts)


def gauge(value: float, samples: int) -> str:
    return f"{_num(value)}x{samples}"


def _num(value: float) -> str:
    return repr(float(value)).removesuffix(".0")


def series(name: str, labels: dict[str, str], values: str) -> dict:
    inner = ", ".join(f'{k}="{v}"' for k, v in labels.items())
    return {"series": f"{name}{{{inner}}}", "values": values}


def bucket_fractions(bounds: Sequence[float], target: float, q: float = 0.95) -> list[float]:
    """Cumulative share of observations at or under each bound (the last one is +Inf) so that
    histogram_quantile(q) interpolates to exactly `target`."""
    finite = [b for b in bounds if math.isfinite(b)]
    hi_index = next(i for i, b in enumerate(finite) if b >= target)
    hi = finite[hi_index]
    lo = finite[hi_index - 1] if hi_index else 0.0
    r = (target - lo) / (hi - lo)
    if r <= q:  # the fast share under `lo`, the rest inside (lo, hi]
        below, at_hi = (q - r) / (1 - r), 1.0
    else:  # nothing under `lo`, some above `hi` (in +Inf)
        below, at_hi = 0.0, q / r
    return [below if b < hi else at_hi if math.isfinite(b) else 1.0 for b in bounds]


# --- annotations as Prometheus renders them ------------------------------------------------------


def humanize_duration(v: float) -> str:
    """Prometheus' humanizeDuration for values under a minute (all this suite needs)."""
    if v == 0 or abs(v) >= 1:
        assert abs(v) < 60, v
        return f"{v:.4g}s"
    prefix = ""
    for p in ("m", "u", "n", "p"):
        if abs(v) >= 1:
            break
        prefix, v = p, v * 1000
    return f"{v:.4g}{prefix}s"


def humanize_percentage(v: float) -> str:
    return f"{v * 100:.4g}%"


def humanize_1024(v: float) -> str:
    if abs(v) <= 1:
        return f"{v:.4g}"
    prefix = ""
    for p in ("ki", "Mi", "Gi", "Ti"):
        if abs(v) < 1024:
            break
        prefix, v = p, v / 1024
    return f"{v:.4g}{prefix}"


_HUMANIZE = {
    "humanizeDuration": humanize_duration,
    "humanizePercentage": humanize_percentage,
    "humanize1024": humanize_1024,
}
_VALUE = re.compile(r"\{\{ \$value(?: \| (\w+))? \}\}")
_LABEL = re.compile(r"\{\{ \$labels\.(\w+) \}\}")


def annotations(alert: rf.Rule, labels: dict[str, str], value: float) -> dict[str, str]:
    """The alert's annotation templates filled with `labels` and `value` (the value the test's
    table expects, so a rule whose value is in the wrong unit shows in its text)."""

    def fill(text: str) -> str:
        text = _VALUE.sub(lambda m: _HUMANIZE[m[1]](value) if m[1] else f"{value:g}", text)
        return _LABEL.sub(lambda m: labels[m[1]], text)

    return {k: fill(v) for k, v in alert.annotations.items()}


def rule(alertname: str, severity: str | None = None) -> rf.Rule:
    """The one alerting rule of this name (and severity) in the rule directory under test."""
    found = [
        a
        for a in rf.alerts()
        if a.name == alertname and severity in (None, a.labels.get("severity"))
    ]
    assert len(found) == 1, f"{alertname} {severity}: {len(found)} rules"
    return found[0]


def firing(alert: rf.Rule, labels: dict[str, str], value: float) -> list[dict]:
    """exp_alerts for one firing alert: every rule label, the series' labels and annotations."""
    exp_labels = {**alert.labels, **labels}
    return [{"exp_labels": exp_labels, "exp_annotations": annotations(alert, exp_labels, value)}]


# --- one promtool run ----------------------------------------------------------------------------

_ENTRY = re.compile(r"(?m)^    (?=name: |expr: )")
_NAMED = re.compile(r"name: (.+),\s*\n")
_TAGGED = re.compile(r'expr: ".* # (.+?)", time: ')


def _tagged(group: dict) -> dict:
    """The group with its name as a PromQL comment after each expression: promtool names the
    group of a failing alert_rule_test, but shows only the expression of a failing
    promql_expr_test."""
    tests = [
        {**t, "expr": f"{t['expr']} # {group['name']}"} for t in group.get("promql_expr_test", [])
    ]
    return {**group, "promql_expr_test": tests} if tests else group


def run(
    rule_files: Iterable[Path], groups: list[dict], directory: Path, evaluation_interval: str
) -> tuple[dict[str, str], str]:
    """Write the groups as one promtool test file, run it; ({group name: its failures}, output).

    Rule groups are evaluated in the order of `rule_files` and of the groups in each file, so
    a file's recording rules must come before the alerts that read them. Group names must be
    unique: each failure is reported under its group's name.
    """
    names = [g["name"] for g in groups]
    assert len(set(names)) == len(names), "duplicate test group names"
    rule_files = list(rule_files)
    doc = {
        "rule_files": [str(p.resolve()) for p in rule_files],
        "evaluation_interval": evaluation_interval,
        # Groups not listed here run in any order at each evaluation (Go map order, different from
        # run to run): an alert group run before the recording groups it reads would see their
        # previous evaluation, or nothing once that is older than the 5m lookback.
        "group_eval_order": [
            g["name"] for path in rule_files for g in rf.load_yaml(path)["groups"]
        ],
        "tests": [_tagged(g) for g in groups],
    }
    path = directory / "generated.test.yml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False, width=1000), encoding="utf-8")
    result = rf.run_tool("promtool", "test", "rules", str(path), timeout=600)
    output = result.stdout + result.stderr
    failures: dict[str, str] = {}
    entries = _ENTRY.split(output)[1:]
    for entry in entries:
        found = _NAMED.match(entry) or _TAGGED.match(entry)
        name = found[1] if found and found[1] in names else "<unattributed>"
        failures[name] = failures.get(name, "") + entry
    if result.returncode != 0 and not failures:
        failures["<promtool>"] = output  # could not load or parse: every group fails
    return failures, output
