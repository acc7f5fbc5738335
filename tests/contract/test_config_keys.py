"""Every key in the Loki, Tempo, Promtail and Collector configs is one the pinned version knows.

These engines refuse to start on an unknown key (Loki, Tempo and Promtail parse YAML strictly; the
Collector rejects "has invalid keys"), and none of them runs here. So each config is walked against
the keys read from the upstream source of the pinned version, cited above each schema. A key that
is missing below is not necessarily wrong: check it upstream for that version, then add it here.

Schema notation: a dict maps the allowed keys to their own schemas; LEAF is a scalar or a list of
scalars; ANY is a free-form map (label sets, JMESPath expressions); (schema,) is a list of items.
"""

from __future__ import annotations

from typing import Any

import pytest
import stackfiles as sf
import yaml

pytestmark = pytest.mark.contract

LEAF = None
ANY = "any"
DIRECTORY = {"path": LEAF}

# grafana/tempo v2.10.x: docs/sources/tempo/configuration/_index.md and manifest.md,
# example/docker-compose/local/tempo.yaml, modules/generator/registry/config.go.
TEMPO = {
    "stream_over_http_enabled": LEAF,
    "server": {"http_listen_port": LEAF, "grpc_listen_port": LEAF, "log_level": LEAF},
    "distributor": {
        "receivers": {
            "otlp": {"protocols": {"grpc": {"endpoint": LEAF}, "http": {"endpoint": LEAF}}}
        }
    },
    "ingester": {"max_block_duration": LEAF, "trace_idle_period": LEAF},
    "compactor": {"compaction": {"block_retention": LEAF}},
    "metrics_generator": {
        "registry": {"external_labels": ANY, "collection_interval": LEAF, "stale_duration": LEAF},
        "storage": {"path": LEAF, "remote_write": ({"url": LEAF, "send_exemplars": LEAF},)},
        "traces_storage": DIRECTORY,
        "processor": {
            "service_graphs": {"dimensions": LEAF, "histogram_buckets": LEAF},
            "span_metrics": {"dimensions": LEAF, "histogram_buckets": LEAF},
            "local_blocks": {"filter_server_spans": LEAF, "flush_to_storage": LEAF},
        },
    },
    "storage": {"trace": {"backend": LEAF, "wal": DIRECTORY, "local": DIRECTORY}},
    "overrides": {"defaults": {"metrics_generator": {"processors": LEAF}}},
    "usage_report": {"reporting_enabled": LEAF},
}

# grafana/loki v3.7.x: docs/sources/shared/configuration.md; retention needs
# compactor.delete_request_store (docs/sources/operations/storage/retention.md).
LOKI = {
    "auth_enabled": LEAF,
    "server": {"http_listen_port": LEAF, "grpc_listen_port": LEAF, "log_level": LEAF},
    "common": {
        "path_prefix": LEAF,
        "storage": {"filesystem": {"chunks_directory": LEAF, "rules_directory": LEAF}},
        "replication_factor": LEAF,
        "instance_addr": LEAF,
        "ring": {"instance_addr": LEAF, "kvstore": {"store": LEAF}},
    },
    "schema_config": {
        "configs": (
            {
                "from": LEAF,
                "store": LEAF,
                "object_store": LEAF,
                "schema": LEAF,
                "index": {"prefix": LEAF, "period": LEAF},
            },
        )
    },
    "limits_config": {
        "allow_structured_metadata": LEAF,
        "retention_period": LEAF,
        "reject_old_samples": LEAF,
        "reject_old_samples_max_age": LEAF,
        "discover_service_name": LEAF,
    },
    "compactor": {
        "working_directory": LEAF,
        "compaction_interval": LEAF,
        "retention_enabled": LEAF,
        "retention_delete_delay": LEAF,
        "delete_request_store": LEAF,
    },
    "analytics": {"reporting_enabled": LEAF},
}

# grafana/loki v3.6.x: docs/sources/send-data/promtail/configuration.md and stages/*.md.
PROMTAIL_STAGES = {
    "json": {"expressions": ANY, "source": LEAF, "drop_malformed": LEAF},
    "timestamp": {"source": LEAF, "format": LEAF, "fallback_formats": LEAF, "location": LEAF},
    "labels": ANY,
    "structured_metadata": ANY,
    "labeldrop": LEAF,
}
PROMTAIL = {
    "server": {"http_listen_port": LEAF, "grpc_listen_port": LEAF, "log_level": LEAF},
    "positions": {"filename": LEAF},
    "clients": ({"url": LEAF},),
    "scrape_configs": (
        {
            "job_name": LEAF,
            "static_configs": ({"targets": LEAF, "labels": ANY},),
            "pipeline_stages": "stages",  # one single-key map per stage, checked below
        },
    ),
}

# open-telemetry/opentelemetry-collector(-contrib) v0.159.0: each component's config.go / README.
COLLECTOR_COMPONENTS = {
    "receivers": {
        "otlp": {"protocols": {"grpc": {"endpoint": LEAF}, "http": {"endpoint": LEAF}}},
    },
    "processors": {
        "memory_limiter": {
            "check_interval": LEAF,
            "limit_mib": LEAF,
            "spike_limit_mib": LEAF,
            "limit_percentage": LEAF,
            "spike_limit_percentage": LEAF,
        },
        "resource": {"attributes": ({"key": LEAF, "value": LEAF, "action": LEAF},)},
        "batch": {"send_batch_size": LEAF, "send_batch_max_size": LEAF, "timeout": LEAF},
    },
    "connectors": {
        "span_metrics": {
            "histogram": {"unit": LEAF, "explicit": {"buckets": LEAF}},
            "dimensions": ({"name": LEAF, "default": LEAF},),
            "exemplars": {"enabled": LEAF},
            "metrics_flush_interval": LEAF,
            "namespace": LEAF,
        },
    },
    "exporters": {
        "otlp_grpc": {"endpoint": LEAF, "tls": {"insecure": LEAF}},
        "prometheus": {"endpoint": LEAF, "enable_open_metrics": LEAF, "namespace": LEAF},
    },
    "extensions": {"health_check": {"endpoint": LEAF, "path": LEAF}},
}
COLLECTOR_SERVICE = {
    "extensions": LEAF,
    "pipelines": ANY,  # checked component by component in test_collector.py
    "telemetry": {
        "logs": {"level": LEAF},
        "metrics": {
            "level": LEAF,
            "readers": ({"pull": {"exporter": {"prometheus": {"host": LEAF, "port": LEAF}}}},),
        },
    },
}


def unknown_keys(node: Any, schema: Any, path: str = "") -> list[str]:
    """Dotted paths of the keys in `node` that `schema` does not allow."""
    if schema is ANY:
        return []
    if schema is LEAF:
        return [f"{path} (a map where a value belongs)"] if isinstance(node, dict) else []
    if isinstance(schema, tuple):
        if not isinstance(node, list):
            return [f"{path} (not a list)"]
        return [
            bad
            for i, item in enumerate(node)
            for bad in unknown_keys(item, schema[0], f"{path}[{i}]")
        ]
    if schema == "stages":
        return _unknown_stage_keys(node, path)
    if not isinstance(node, dict):
        return [f"{path} (not a map)"]
    found = []
    for key, value in node.items():
        where = f"{path}.{key}" if path else str(key)
        if key in schema:
            found += unknown_keys(value, schema[key], where)
        else:
            found.append(where)
    return found


def _unknown_stage_keys(stages: list, path: str) -> list[str]:
    found = []
    for i, stage in enumerate(stages):
        ((kind, body),) = stage.items()
        if kind not in PROMTAIL_STAGES:
            found.append(f"{path}[{i}].{kind}")
        else:
            found += unknown_keys(body, PROMTAIL_STAGES[kind], f"{path}[{i}].{kind}")
    return found


def collector_unknown_keys(config: dict) -> list[str]:
    found = [key for key in config if key not in {*COLLECTOR_COMPONENTS, "service"}]
    for section, types in COLLECTOR_COMPONENTS.items():
        for component_id, body in (config.get(section) or {}).items():
            kind = component_id.split("/", 1)[0]
            if kind not in types:
                found.append(f"{section}.{component_id} (component type not checked upstream)")
            else:
                found += unknown_keys(body or {}, types[kind], f"{section}.{component_id}")
    return found + unknown_keys(config["service"], COLLECTOR_SERVICE, "service")


CASES = {
    "tempo/tempo.yaml": TEMPO,
    "loki/loki.yaml": LOKI,
    "promtail/promtail.yaml": PROMTAIL,
}


@pytest.mark.parametrize("path", sorted(CASES))
def test_every_key_is_known_to_the_pinned_version(path):
    assert unknown_keys(sf.load_yaml(path), CASES[path]) == []


def test_every_collector_key_is_known_to_the_pinned_version():
    assert collector_unknown_keys(sf.load_yaml("otel-collector/config.yaml")) == []


@pytest.mark.parametrize(
    ("path", "old", "new"),
    [
        ("loki/loki.yaml", "retention_enabled", "retention_enable"),
        ("tempo/tempo.yaml", "send_exemplars", "send_exemplar"),
        ("tempo/tempo.yaml", "metrics_generator:\n", "metrics_generators:\n"),
        ("promtail/promtail.yaml", "structured_metadata:", "structured_meta:"),
    ],
)
def test_a_misspelt_key_is_caught(path, old, new):
    text = (sf.REPO / path).read_text(encoding="utf-8")
    assert old in text
    assert unknown_keys(yaml.safe_load(text.replace(old, new, 1)), CASES[path])


def test_a_misspelt_collector_key_or_old_component_name_is_caught():
    text = (sf.REPO / "otel-collector" / "config.yaml").read_text(encoding="utf-8")
    for old, new in (
        ("enable_open_metrics", "enable_openmetrics"),
        ("span_metrics:", "spanmetrics:"),
    ):
        assert old in text
        assert collector_unknown_keys(yaml.safe_load(text.replace(old, new, 1))), new
