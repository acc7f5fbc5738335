"""The derived half of each chart's values: image pins from `.env` and the engine configs that the
compose stack also runs (Alertmanager routes and templates, Collector pipelines, Promtail stages,
Loki limits, Tempo's metrics generator). The chosen half is deploy/helm/<chart>/values.yaml.
"""

from __future__ import annotations

from . import monitoring
from .sources import RECEIVER_SECRET, Sources, rewrite_tree

# Where Promtail applies the compose pipeline: the marketplace's pods only. Their `job` label is
# set to "marketplace" by the relabeling in deploy/helm/promtail/values.yaml, as in compose.
PROMTAIL_SELECTOR = '{job="marketplace"}'


def kube_prometheus_stack(sources: Sources) -> dict:
    alertmanager, _ = monitoring.alertmanager_values(sources)
    return {
        "prometheus": {
            "prometheusSpec": {
                "image": sources.image("PROMETHEUS_IMAGE"),
                "scrapeInterval": sources.scrape_interval,
                "evaluationInterval": sources.evaluation_interval,
                "retention": sources.env["PROMETHEUS_RETENTION"],
            }
        },
        "alertmanager": {
            "alertmanagerSpec": {
                "image": sources.image("ALERTMANAGER_IMAGE"),
                # Mounted at /etc/alertmanager/secrets/<name>/<key>, where config's *_file points.
                "secrets": [RECEIVER_SECRET],
            },
            **alertmanager,
        },
    }


def loki(sources: Sources) -> dict:
    limits = sources.yaml("loki/loki.yaml")["limits_config"]
    return {"loki": {"image": sources.image("LOKI_IMAGE"), "limits_config": limits}}


def tempo_distributed(sources: Sources) -> dict:
    tempo = rewrite_tree(sources.yaml("tempo/tempo.yaml"), sources)
    generator = tempo["metrics_generator"]
    return {
        "tempo": {"image": sources.image("TEMPO_IMAGE")},
        "metricsGenerator": {
            "config": {
                "registry": generator["registry"],
                "processor": generator["processor"],
                "storage": {"remote_write": generator["storage"]["remote_write"]},
            }
        },
        "overrides": {"defaults": tempo["overrides"]["defaults"]},
        "compactor": {"config": {"compaction": tempo["compactor"]["compaction"]}},
    }


def opentelemetry_collector(sources: Sources) -> dict:
    config = rewrite_tree(sources.yaml("otel-collector/config.yaml"), sources)
    image = sources.image("OTEL_COLLECTOR_IMAGE")
    env = sources.env
    return {
        # The chart's image has no registry key: the repository names it (docker.io by default).
        "image": {"repository": image["repository"], "tag": image["tag"]},
        # Not merged with the chart's default config (jaeger, zipkin, debug): the same pipelines as
        # compose, nothing else.
        "alternateConfig": config,
        "ports": {
            "otlp": {
                "containerPort": int(env["OTEL_COLLECTOR_OTLP_GRPC_PORT"]),
                "servicePort": int(env["OTEL_COLLECTOR_OTLP_GRPC_PORT"]),
            },
            "otlp-http": {
                "containerPort": int(env["OTEL_COLLECTOR_OTLP_HTTP_PORT"]),
                "servicePort": int(env["OTEL_COLLECTOR_OTLP_HTTP_PORT"]),
            },
            "metrics": {
                "enabled": True,
                "containerPort": int(env["OTEL_COLLECTOR_METRICS_PORT"]),
                "servicePort": int(env["OTEL_COLLECTOR_METRICS_PORT"]),
                "protocol": "TCP",
            },
            "prom-exporter": {
                "enabled": True,
                "containerPort": int(env["OTEL_COLLECTOR_PROMETHEUS_PORT"]),
                "servicePort": int(env["OTEL_COLLECTOR_PROMETHEUS_PORT"]),
                "protocol": "TCP",
            },
        },
        "livenessProbe": {"httpGet": {"port": int(env["OTEL_COLLECTOR_HEALTH_PORT"])}},
        "readinessProbe": {"httpGet": {"port": int(env["OTEL_COLLECTOR_HEALTH_PORT"])}},
    }


def promtail(sources: Sources) -> dict:
    compose = rewrite_tree(sources.yaml("promtail/promtail.yaml"), sources)
    (job,) = [j for j in compose["scrape_configs"] if j["job_name"] == "marketplace"]
    return {
        "image": sources.image("PROMTAIL_IMAGE"),
        "config": {
            "clients": compose["clients"],
            "snippets": {
                # Pod logs are CRI lines around the service's JSON; unwrap, then the compose stages.
                "pipelineStages": [
                    {"cri": {}},
                    {"match": {"selector": PROMTAIL_SELECTOR, "stages": job["pipeline_stages"]}},
                ]
            },
        },
    }


CHARTS = {
    "kube-prometheus-stack": kube_prometheus_stack,
    "loki": loki,
    "tempo-distributed": tempo_distributed,
    "opentelemetry-collector": opentelemetry_collector,
    "promtail": promtail,
}
