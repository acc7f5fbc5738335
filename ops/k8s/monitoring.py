"""Rules, dashboards, datasources and the Alertmanager configuration, from the compose files.

Each function returns plain data; `ops.k8s.__main__` writes it. Nothing here changes what a rule,
route, template or panel says: only where things are (hosts, secret paths, template paths).
"""

from __future__ import annotations

import re

import yaml

from .sources import (
    ALERTMANAGER_SECRETS_DIR,
    ALERTMANAGER_TEMPLATES_DIR,
    MONITORING,
    PART_OF,
    RECEIVER_SECRET,
    Sources,
    rewrite_tree,
)

LABELS = {"app.kubernetes.io/part-of": PART_OF}
# The Grafana sidecars of kube-prometheus-stack pick ConfigMaps up by these labels
# (grafana.sidecar.dashboards.label / .datasources.label in its values.yaml, both valued "1").
DASHBOARD_LABEL = "grafana_dashboard"
DATASOURCE_LABEL = "grafana_datasource"
COMPOSE_SECRET = re.compile(r"^/run/secrets/([A-Za-z0-9_.-]+)$")


def k8s_name(stem: str) -> str:
    return stem.replace("_", "-").lower()


def prometheus_rules(sources: Sources) -> dict[str, dict]:
    """One PrometheusRule per rule file, its groups copied group for group."""
    rules = {}
    for path in sources.files("prometheus/rules/*.yml"):
        rules[path.stem] = {
            "apiVersion": "monitoring.coreos.com/v1",
            "kind": "PrometheusRule",
            "metadata": {
                "name": k8s_name(path.stem),
                "namespace": MONITORING,
                "labels": dict(LABELS),
                "annotations": {"marketplace-obs/source": f"prometheus/rules/{path.name}"},
            },
            "spec": {"groups": sources.yaml(f"prometheus/rules/{path.name}")["groups"]},
        }
    return rules


def dashboards(sources: Sources) -> dict[str, dict]:
    """One ConfigMap per dashboard, the JSON byte for byte."""
    maps = {}
    for path in sources.files("grafana/dashboards/*.json"):
        maps[path.stem] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": f"dashboard-{k8s_name(path.stem)}",
                "namespace": MONITORING,
                "labels": {**LABELS, DASHBOARD_LABEL: "1"},
                "annotations": {"marketplace-obs/source": f"grafana/dashboards/{path.name}"},
            },
            "data": {path.name: path.read_text(encoding="utf-8")},
        }
    return maps


def datasources(sources: Sources) -> dict:
    """The provisioning file with each URL on its in-cluster Service; uids and links unchanged."""
    relative = "grafana/provisioning/datasources/datasources.yaml"
    provisioning = rewrite_tree(sources.yaml(relative), sources)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "grafana-datasources-marketplace",
            "namespace": MONITORING,
            "labels": {**LABELS, DATASOURCE_LABEL: "1"},
            "annotations": {"marketplace-obs/source": relative},
        },
        # `$$` stays: Grafana still expands $VAR in a provisioning file the sidecar copies in.
        "data": {"marketplace-datasources.yaml": yaml.safe_dump(provisioning, sort_keys=False)},
    }


def _secret_paths(node, found: set[str]):
    """Compose secret paths (`/run/secrets/<name>`) -> the mounted Kubernetes Secret's key."""
    if isinstance(node, dict):
        for key, value in node.items():
            match = COMPOSE_SECRET.match(value) if isinstance(value, str) else None
            if key.endswith("_file") and match:
                found.add(match.group(1))
                node[key] = f"{ALERTMANAGER_SECRETS_DIR}/{RECEIVER_SECRET}/{match.group(1)}"
            else:
                _secret_paths(value, found)
    elif isinstance(node, list):
        for item in node:
            _secret_paths(item, found)
    return found


def alertmanager_values(sources: Sources) -> tuple[dict, list[str]]:
    """kube-prometheus-stack's `alertmanager.config` and `.templateFiles`, and the Secret keys the
    config reads (docs/kubernetes.md says how to create the Secret from alertmanager/secrets/)."""
    config = rewrite_tree(sources.yaml("alertmanager/alertmanager.yml"), sources)
    keys = sorted(_secret_paths(config, set()))
    templates = {
        p.name: p.read_text(encoding="utf-8")
        for p in sources.files("alertmanager/templates/*.tmpl")
    }
    config["templates"] = [f"{ALERTMANAGER_TEMPLATES_DIR}/*.tmpl"]
    values = {"config": config, "templateFiles": templates}
    return values, keys
