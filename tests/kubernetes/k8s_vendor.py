"""What the Kubernetes tests check against, vendored from ../shared: a clone needs nothing else.

`python -m tests.kubernetes.k8s_vendor` rewrites tests/kubernetes/schemas/ from the chart
defaults in ../shared/reference/helm/ and the CRDs in
../shared/schemas/prometheus-operator-crds/ (v0.93.0);
test_k8s_vendored.py fails when the vendored files and those sources disagree.

Chart defaults are vendored pruned: only the keys on the paths our values files set (the rest of a
200 KB values.yaml proves nothing here). A key our values set that the chart's values.yaml only
documents in a comment (Loki's `bucketNames`) is vendored as the comment line that documents it.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
SCHEMAS = HERE / "schemas"
REPO = HERE.parent.parent
SHARED = REPO.parent / "shared"
HELM_REFERENCE = SHARED / "reference" / "helm"
CRD_REFERENCE = SHARED / "schemas" / "prometheus-operator-crds"
OPERATOR_VERSION = "v0.93.0"
DEPLOY_HELM = REPO / "deploy" / "helm"

# Subtrees a chart passes to the engine as the engine's own configuration: their keys are the
# engine's, proven by the engine (amtool, the compose stack that runs the same file), not the chart.
OPAQUE = {
    "kube-prometheus-stack": {"alertmanager.config", "alertmanager.templateFiles"},
    "loki": {"loki.limits_config"},
    "tempo-distributed": {
        "metricsGenerator.config",
        "overrides.defaults",
        "storage.trace",
        "compactor.config",
    },
    "opentelemetry-collector": {"alternateConfig"},
    "promtail": set(),
}
# Opaque defaults Helm merges into ours (maps merge key by key): vendored whole, so a test can
# prove the merge leaves ours unchanged.
VERBATIM = {"kube-prometheus-stack": ["alertmanager.config"]}
# Keys the chart's values.yaml documents only in a comment (path -> the comment's key).
COMMENTED = {"loki": {"loki.storage.bucketNames": "bucketNames"}}
# Charts that ship a values.schema.json; it is vendored whole (the collector's is what Helm checks).
WITH_SCHEMA = {"loki", "opentelemetry-collector"}
# Full defaults vendored where the schema needs them (required keys of the merged values).
FULL_DEFAULTS = {"opentelemetry-collector"}
CRDS = ("prometheusrules", "podmonitors")


def pinned_charts() -> list[dict]:
    return yaml.safe_load((DEPLOY_HELM / "charts.yaml").read_text())["charts"]


def values_files(chart: str) -> list[Path]:
    """Every values file of ours for a chart: the choices, the generated half, optional extras."""
    folder = DEPLOY_HELM / chart
    extras = sorted(
        p for p in folder.glob("*.yaml") if p.name not in {"values.yaml", "generated.yaml"}
    )
    return [folder / "values.yaml", folder / "generated.yaml", *extras]


def merge(base, override):
    """Helm's merge of values: maps merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = dict(base)
        for key, value in override.items():
            merged[key] = merge(base.get(key), value) if key in base else value
        return merged
    return override


def our_values(chart: str) -> dict:
    merged: dict = {}
    for path in values_files(chart):
        merged = merge(merged, yaml.safe_load(path.read_text()) or {})
    return merged


def schema_node(schema: dict | None, key: str) -> dict | None:
    """The subschema a values.schema.json names for `key` (properties or a matching pattern)."""
    if not schema:
        return None
    if key in schema.get("properties", {}):
        return schema["properties"][key]
    for pattern, node in schema.get("patternProperties", {}).items():
        if re.search(pattern, key):
            return node
    return None


def walk(ours: dict, defaults, chart: str, path: str = "", schema: dict | None = None):
    """(path, verdict, upstream) for every key we set: verdict is "descend", "leaf", "opaque",
    "commented", "schema" (named by the chart's values.schema.json) or "unknown"."""
    for key, value in ours.items():
        here = f"{path}.{key}" if path else str(key)
        sub = schema_node(schema, str(key))
        if here in OPAQUE.get(chart, ()):
            yield here, "opaque", None
        elif not isinstance(defaults, dict) or key not in defaults:
            if here in COMMENTED.get(chart, {}):
                yield here, "commented", None
            elif sub is not None:
                yield here, "schema", None
                if isinstance(value, dict):
                    yield from walk(value, None, chart, here, sub)
            else:
                yield here, "unknown", None
        elif isinstance(value, dict) and isinstance(defaults[key], dict) and defaults[key]:
            yield here, "descend", None
            yield from walk(value, defaults[key], chart, here, sub)
        else:
            yield here, "leaf", defaults[key]


def unknown_keys(ours: dict, defaults: dict, chart: str, schema: dict | None = None) -> list[str]:
    found = walk(ours, defaults, chart, schema=schema)
    return [path for path, verdict, _ in found if verdict == "unknown"]


def _leaf(value):
    """A default as vendored: scalars and empty collections as they are, big subtrees by type."""
    if isinstance(value, dict | list) and value:
        return {"<vendored as>": type(value).__name__}
    return value


def _schema(folder: Path, chart: str) -> dict | None:
    return json.loads((folder / "values.schema.json").read_text()) if chart in WITH_SCHEMA else None


def prune(ours: dict, defaults: dict, chart: str, schema: dict | None = None) -> dict:
    pruned: dict = {}
    for path, verdict, upstream in walk(ours, defaults, chart, schema=schema):
        if verdict in {"unknown", "commented", "opaque", "schema"}:
            continue
        *parents, last = path.split(".")
        node = pruned
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = {} if verdict == "descend" else _leaf(upstream)
    return pruned


def _at(tree: dict, path: str):
    for part in path.split("."):
        tree = tree[part]
    return tree


def comment_lines(chart: str, raw: str) -> dict[str, str]:
    found = {}
    for path, key in COMMENTED.get(chart, {}).items():
        match = re.search(rf"^\s*#\s*{re.escape(key)}:.*$", raw, re.MULTILINE)
        if match:
            found[path] = match.group(0).strip()
    return found


def _strip_descriptions(node):
    if isinstance(node, dict):
        return {
            k: _strip_descriptions(v)
            for k, v in node.items()
            if not (k == "description" and isinstance(v, str))
        }
    if isinstance(node, list):
        return [_strip_descriptions(v) for v in node]
    return node


def _crd_loader():
    class Loader(yaml.SafeLoader):
        pass

    # A bare `=` in the AlertmanagerConfig CRD is YAML's "value" tag; ../shared/schemas/README.md.
    Loader.add_constructor("tag:yaml.org,2002:value", lambda loader, node: node.value)
    return Loader


def crd_schemas(name: str) -> dict:
    """version -> openAPIV3Schema (descriptions removed) of one upstream CRD."""
    path = CRD_REFERENCE / f"monitoring.coreos.com_{name}.yaml"
    crd = yaml.load(path.read_text(), Loader=_crd_loader())  # noqa: S506 - SafeLoader subclass
    return {
        "source": f"prometheus-operator/prometheus-operator {OPERATOR_VERSION}, "
        f"example/prometheus-operator-crd/monitoring.coreos.com_{name}.yaml",
        "kind": crd["spec"]["names"]["kind"],
        "versions": {
            v["name"]: _strip_descriptions(v["schema"]["openAPIV3Schema"])
            for v in crd["spec"]["versions"]
        },
    }


def chart_vendor(chart: str, version: str) -> dict[str, str]:
    """File name under schemas/ -> content, for one chart."""
    folder = HELM_REFERENCE / f"{chart}-{version}"
    raw = (folder / "values.yaml").read_text()
    defaults = yaml.safe_load(raw)
    header = (
        f"# {chart} {version}: the chart's default values.yaml, pruned to the keys our values set\n"
        f"# (tests/kubernetes/k8s_vendor.py), from ../shared/reference/helm/{chart}-{version}/.\n"
    )
    body = {
        "chart": chart,
        "version": yaml.safe_load((folder / "Chart.yaml").read_text())["version"],
        "defaults": prune(our_values(chart), defaults, chart, _schema(folder, chart)),
        "documented_in_comments": comment_lines(chart, raw),
        "verbatim": {path: _at(defaults, path) for path in VERBATIM.get(chart, [])},
    }
    files = {f"{chart}.defaults.yaml": header + yaml.safe_dump(body, sort_keys=False)}
    if chart in WITH_SCHEMA:
        files[f"{chart}.values.schema.json"] = (folder / "values.schema.json").read_text()
    if chart in FULL_DEFAULTS:
        files[f"{chart}.values.yaml"] = raw
    return files


def everything() -> dict[str, str]:
    files: dict[str, str] = {}
    for entry in pinned_charts():
        files.update(chart_vendor(entry["chart"], entry["version"]))
    for name in CRDS:
        files[f"crd-{name}.json"] = json.dumps(crd_schemas(name), indent=1, sort_keys=True) + "\n"
    return files


def main() -> int:
    SCHEMAS.mkdir(exist_ok=True)
    for name, text in everything().items():
        (SCHEMAS / name).write_text(text)
    print(f"wrote {len(everything())} files to {SCHEMAS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
