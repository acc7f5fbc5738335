"""The compose-side files every Kubernetes manifest is derived from, and where things live in the
cluster.

A compose service name is a host name in compose; in the cluster each has a Service of its own,
named by the Helm release (`fullnameOverride` in deploy/helm/*/values.yaml) or by our manifests.
`CLUSTER_HOSTS` is the one place those names are written; the ports stay those of `.env`, except
where a chart publishes its own (the Loki gateway listens on 80).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

from ops.stack import topology

REPO = topology.REPO_ROOT
MONITORING = "monitoring"
APP_NAMESPACE = "marketplace"
PART_OF = "marketplace-obs"
# deployment.environment of the cluster's spans (compose: DEPLOYMENT_ENVIRONMENT).
ENVIRONMENT = "kubernetes"
# One Secret holds every receiver credential; kube-prometheus-stack mounts it
# (alertmanagerSpec.secrets). A name, not a credential.
RECEIVER_SECRET = "alertmanager-receivers"  # noqa: S105
ALERTMANAGER_SECRETS_DIR = "/etc/alertmanager/secrets"
# kube-prometheus-stack writes alertmanager.templateFiles here (its values.yaml, config.templates).
ALERTMANAGER_TEMPLATES_DIR = "/etc/alertmanager/config"


def _svc(name: str, namespace: str = MONITORING) -> str:
    return f"{name}.{namespace}.svc"


# compose service -> (in-cluster host, .env key of its port, or a chart's fixed port)
CLUSTER_HOSTS: dict[str, tuple[str, str | int]] = {
    # The Prometheus Operator's governing Services: their names do not depend on the release.
    "prometheus": (_svc("prometheus-operated"), "PROMETHEUS_PORT"),
    "alertmanager": (_svc("alertmanager-operated"), "ALERTMANAGER_PORT"),
    "loki": (_svc("loki-gateway"), 80),
    "tempo": (_svc("tempo-query-frontend"), "TEMPO_PORT"),
    "tempo-otlp": (_svc("tempo-distributor"), "TEMPO_OTLP_GRPC_PORT"),
    "otel-collector": (_svc("otel-collector"), "OTEL_COLLECTOR_OTLP_GRPC_PORT"),
    "alertsink": (_svc("alertsink"), "ALERTSINK_PORT"),
}


def image_parts(reference: str) -> dict[str, str]:
    """`grafana/loki:3.7.6` -> registry docker.io, repository grafana/loki, tag 3.7.6."""
    name, _, tag = reference.rpartition(":")
    if not name or "/" in tag:
        raise ValueError(f"image without a tag: {reference!r}")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return {"registry": first, "repository": rest, "tag": tag}
    return {"registry": "docker.io", "repository": name, "tag": tag}


@dataclass(frozen=True)
class Sources:
    """Read-only view of the compose-side files, each parsed once."""

    root: Path = REPO

    @cached_property
    def env(self) -> dict[str, str]:
        return topology.load_env(self.root / ".env")

    def yaml(self, relative: str) -> dict:
        return yaml.safe_load((self.root / relative).read_text(encoding="utf-8")) or {}

    def text(self, relative: str) -> str:
        return (self.root / relative).read_text(encoding="utf-8")

    def files(self, pattern: str) -> list[Path]:
        return sorted(self.root.glob(pattern))

    def image(self, key: str) -> dict[str, str]:
        return image_parts(self.env[key])

    def host(self, component: str) -> str:
        """`host:port` of a compose component inside the cluster."""
        host, port = CLUSTER_HOSTS[component]
        return f"{host}:{port if isinstance(port, int) else self.env[port]}"

    def url(self, component: str) -> str:
        host, port = CLUSTER_HOSTS[component]
        if port == 80:
            return f"http://{host}"
        return f"http://{self.host(component)}"

    def expand(self, text: str) -> str:
        """`${VAR}` and `${env:VAR}` replaced by .env's value; any other text untouched."""

        def value(match: re.Match) -> str:
            key = match.group(1)
            if key == "DEPLOYMENT_ENVIRONMENT":
                return ENVIRONMENT
            return self.env[key]

        return re.sub(r"(?<!\$)\$\{(?:env:)?([A-Z][A-Z0-9_]*)\}", value, text)

    @cached_property
    def scrape_interval(self) -> str:
        return self.yaml("prometheus/prometheus.yml")["global"]["scrape_interval"]

    @cached_property
    def evaluation_interval(self) -> str:
        return self.yaml("prometheus/prometheus.yml")["global"]["evaluation_interval"]


_COMPOSE_ADDRESS = re.compile(
    r"\b(prometheus|alertmanager|loki|tempo|alertsink|otel-collector):(\d+)"
)


def rewrite_hosts(text: str, sources: Sources) -> str:
    """Every `<compose service>:<port>` (after `expand`) pointed at its in-cluster Service."""

    def cluster(match: re.Match) -> str:
        component, port = match.group(1), match.group(2)
        if component == "tempo" and port == sources.env["TEMPO_OTLP_GRPC_PORT"]:
            component = "tempo-otlp"
        host, fixed = CLUSTER_HOSTS[component]
        return host if fixed == 80 else sources.host(component)

    return _COMPOSE_ADDRESS.sub(cluster, sources.expand(text))


def rewrite_tree(node, sources: Sources):
    """`rewrite_hosts` on every string of a parsed file (comments are gone by then)."""
    if isinstance(node, dict):
        return {key: rewrite_tree(value, sources) for key, value in node.items()}
    if isinstance(node, list):
        return [rewrite_tree(item, sources) for item in node]
    if not isinstance(node, str):
        return node
    text = rewrite_hosts(node, sources)
    # A value that was only `${PORT}` is a number once expanded, as the engine would read it.
    return int(text) if _WHOLE_VARIABLE.fullmatch(node) and text.isdigit() else text


_WHOLE_VARIABLE = re.compile(r"\$\{(?:env:)?[A-Z][A-Z0-9_]*\}")
