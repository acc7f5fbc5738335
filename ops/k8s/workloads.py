"""Our own workloads: the marketplace v1 and v2, the alert sink, the load generator (its own
kustomization, so it is off unless applied), and the PodMonitors that scrape them.

Environment, images and memory limits come from compose.yaml and `.env`, so a setting changed
there changes here on the next `make k8s`.
"""

from __future__ import annotations

import re

import yaml

from .sources import APP_NAMESPACE, ENVIRONMENT, MONITORING, PART_OF, Sources, rewrite_hosts

NON_ROOT_UID = 10001
# A Secret the operator may create to open the fault-injection API; absent means closed, as in
# compose where MARKETPLACE_ADMIN_TOKEN defaults to empty.
ADMIN_SECRET = "marketplace-admin"  # noqa: S105 - a Secret's name


def _labels(name: str, **extra: str) -> dict:
    return {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": PART_OF, **extra}


def _compose(sources: Sources) -> dict:
    return sources.yaml("compose.yaml")


def _memory(service: dict) -> str:
    """compose's `512m` -> Kubernetes' `512Mi` (compose's units are binary)."""
    value = service["deploy"]["resources"]["limits"]["memory"]
    number, unit = re.fullmatch(r"(\d+)([kmg])", value.lower()).groups()
    return f"{number}{unit.upper()}i"


def _pod_security() -> dict:
    return {
        "runAsNonRoot": True,
        "runAsUser": NON_ROOT_UID,
        "runAsGroup": NON_ROOT_UID,
        "fsGroup": NON_ROOT_UID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _container_security() -> dict:
    return {
        "allowPrivilegeEscalation": False,
        "privileged": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _probe(path: str, port: str, period: int, failures: int) -> dict:
    return {
        "httpGet": {"path": path, "port": port},
        "periodSeconds": period,
        "timeoutSeconds": 4,
        "failureThreshold": failures,
    }


def marketplace_env(sources: Sources, variant: str) -> list[dict]:
    """compose's marketplace environment, minus the log file: in a pod the logs go to stdout,
    where Promtail reads them."""
    compose = _compose(sources)
    env = dict(compose["x-marketplace-env"])
    env.update(compose["services"][f"marketplace-{variant}"]["environment"])
    env.pop("MARKETPLACE_LOG_FILE")
    items = []
    for key, value in env.items():
        if key == "MARKETPLACE_ADMIN_TOKEN":
            ref = {"name": ADMIN_SECRET, "key": "token", "optional": True}
            items.append({"name": key, "valueFrom": {"secretKeyRef": ref}})
            continue
        text = rewrite_hosts(str(value), sources)
        if key == "MARKETPLACE_ENVIRONMENT":
            text = ENVIRONMENT
        items.append({"name": key, "value": text})
    return items


def marketplace(sources: Sources, variant: str) -> list[dict]:
    compose = _compose(sources)["services"][f"marketplace-{variant}"]
    name = f"marketplace-{variant}"
    port = int(sources.env["MARKETPLACE_PORT"])
    # `version` on the pod: the PodMonitor turns it into the target label every rule splits by.
    labels = _labels("marketplace", version=variant)
    container = {
        "name": "marketplace",
        "image": sources.env["MARKETPLACE_IMAGE"],
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "env": marketplace_env(sources, variant),
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"memory": _memory(compose)},
        },
        # The catalog loads before /readyz answers; /healthz only says the process serves.
        "startupProbe": _probe("/healthz", "http", 2, 30),
        "livenessProbe": _probe("/healthz", "http", 10, 3),
        "readinessProbe": _probe("/readyz", "http", 5, 3),
        "securityContext": _container_security(),
        # gunicorn's worker heartbeat file, on an emptyDir: the root filesystem is read-only.
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": APP_NAMESPACE, "labels": labels},
        "spec": {
            # v2's count is the autoscaler's: a replica count here would undo it on every apply.
            **({} if variant == "v2" else {"replicas": 1}),
            "selector": {
                "matchLabels": {"app.kubernetes.io/name": "marketplace", "version": variant}
            },
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": _pod_security(),
                    "terminationGracePeriodSeconds": 30,
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                },
            },
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": APP_NAMESPACE, "labels": labels},
        "spec": {
            "selector": {"app.kubernetes.io/name": "marketplace", "version": variant},
            "ports": [{"name": "http", "port": port, "targetPort": "http", "protocol": "TCP"}],
        },
    }
    resources = [deployment, service]
    if variant == "v2":
        resources += autoscaling(name, labels)
    return resources


def autoscaling(name: str, labels: dict) -> list[dict]:
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": APP_NAMESPACE, "labels": labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 2,
            "maxReplicas": 10,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": 70},
                    },
                }
            ],
        },
    }
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name, "namespace": APP_NAMESPACE, "labels": labels},
        "spec": {
            "minAvailable": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": "marketplace", "version": "v2"}},
        },
    }
    return [hpa, pdb]


def pod_monitor(sources: Sources, name: str, namespace: str, target_labels: list[str]) -> dict:
    """job = the pod's app.kubernetes.io/name (the compose job names); other pod labels listed in
    target_labels become target labels of every series (`version`)."""
    spec = {
        "jobLabel": "app.kubernetes.io/name",
        "selector": {"matchLabels": {"app.kubernetes.io/name": name}},
        "podMetricsEndpoints": [
            {"port": "http", "path": "/metrics", "interval": sources.scrape_interval}
        ],
    }
    if target_labels:
        spec["podTargetLabels"] = target_labels
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {"name": name, "namespace": namespace, "labels": _labels(name)},
        "spec": spec,
    }


def alertsink(sources: Sources) -> list[dict]:
    compose = _compose(sources)["services"]["alertsink"]
    port = int(sources.env["ALERTSINK_PORT"])
    labels = _labels("alertsink")
    env = [{"name": k, "value": sources.expand(str(v))} for k, v in compose["environment"].items()]
    container = {
        "name": "alertsink",
        "image": sources.env["ALERTSINK_IMAGE"],
        "imagePullPolicy": "IfNotPresent",
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
        "env": env,
        "resources": {
            "requests": {"cpu": "50m", "memory": "64Mi"},
            "limits": {"memory": _memory(compose)},
        },
        "livenessProbe": _probe("/healthz", "http", 10, 3),
        "readinessProbe": _probe("/healthz", "http", 5, 3),
        "securityContext": _container_security(),
    }
    meta = {"name": "alertsink", "namespace": MONITORING, "labels": labels}
    selector = {"app.kubernetes.io/name": "alertsink"}
    return [
        _single_replica(meta, selector, labels, container),
        {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": meta,
            "spec": {
                "selector": selector,
                "ports": [{"name": "http", "port": port, "targetPort": "http"}],
            },
        },
    ]


def loadgen(sources: Sources) -> dict:
    compose = _compose(sources)["services"]["loadgen"]
    # The targets keep their compose names: the Services of the same namespace answer to them.
    args = [sources.expand(str(a)) for a in compose["command"]]
    labels = _labels("loadgen")
    container = {
        "name": "loadgen",
        "image": sources.env["MARKETPLACE_IMAGE"],
        "imagePullPolicy": "IfNotPresent",
        "command": list(compose["entrypoint"]),
        "args": args,
        "resources": {
            "requests": {"cpu": "100m", "memory": "64Mi"},
            "limits": {"memory": _memory(compose)},
        },
        "securityContext": _container_security(),
    }
    return _single_replica(
        {"name": "loadgen", "namespace": APP_NAMESPACE, "labels": labels},
        {"app.kubernetes.io/name": "loadgen"},
        labels,
        container,
    )


def _single_replica(meta: dict, selector: dict, labels: dict, container: dict) -> dict:
    """A one-replica Deployment of one hardened container (the alert sink, the load generator)."""
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta,
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": _pod_security(),
                    "containers": [container],
                },
            },
        },
    }


def namespace() -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": APP_NAMESPACE, "labels": {"app.kubernetes.io/part-of": PART_OF}},
    }


def dump_all(resources: list[dict]) -> str:
    return yaml.safe_dump_all(resources, sort_keys=False)
