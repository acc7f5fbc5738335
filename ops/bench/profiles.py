"""The configurations the benchmark runs, as environments for `python -m marketplace`.

`shipped` is what compose runs: the service's own settings for everything compose does not set,
and compose's literal OTEL_* and MARKETPLACE_* values for the rest (read from compose.yaml, so
the two cannot drift), logs to a file as compose writes them, spans exported to a live local
sink instead of the Collector. `stock` is the setup before issue 10: the Flask instrumentor, the
standard library's json, stdout and the file written by the request threads, gunicorn.
The `signal_*` steps add one signal at a time on the shipped server, for the per-signal table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE = REPO_ROOT / "compose.yaml"
# Set per run by the benchmark (ports, endpoint, file), never taken from compose.
PER_RUN = ("MARKETPLACE_HOST", "MARKETPLACE_PORT", "MARKETPLACE_LOG_FILE", "MARKETPLACE_VARIANT")
QUIET = {"MARKETPLACE_LOG_LEVEL": "warning"}  # no line per request: logs priced separately
NO_EXPORT = {"OTEL_TRACES_EXPORTER": "none"}
CHUNK = "MARKETPLACE_OTLP_ENCODE_CHUNK"


def compose_environment(path: Path = COMPOSE) -> dict[str, str]:
    """The marketplace services' literal environment in compose.yaml: values with no `${...}`
    (those come from .env and are hosts, ports and levels the benchmark sets itself)."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    env = document["services"]["marketplace-v2"]["environment"]
    return {
        key: str(value)
        for key, value in env.items()
        if key.startswith(("OTEL_", "MARKETPLACE_"))
        and key not in PER_RUN
        and "${" not in str(value)
        and key != "OTEL_EXPORTER_OTLP_ENDPOINT"
    }


@dataclass(frozen=True)
class Profile:
    name: str
    env: dict[str, str] = field(default_factory=dict)
    log_file: bool = False  # MARKETPLACE_LOG_FILE in the run's directory
    export: bool = False  # OTEL_EXPORTER_OTLP_ENDPOINT at a local sink
    protocol: str | None = None  # the sink's; None: the profile's OTEL_EXPORTER_OTLP_PROTOCOL

    def sink_protocol(self) -> str:
        return self.protocol or self.env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")


def shipped(compose: dict[str, str], **changes: str) -> Profile:
    return Profile("shipped", {**compose, **changes}, log_file=True, export=True)


def profiles(compose: dict[str, str]) -> dict[str, Profile]:
    """Every configuration by name; the runner picks the loads each one gets."""
    base = shipped(compose)
    gunicorn = {"MARKETPLACE_SERVER": "gunicorn"}
    stock = {**compose, **gunicorn, "MARKETPLACE_INSTRUMENTATION": "stock"}
    # the SDK's defaults, which compose overrides (OTEL_BSP_*)
    sdk_bsp = {k: v for k, v in base.env.items() if not k.startswith("OTEL_BSP_")}
    protocol = base.env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    other_protocol = "http/protobuf" if protocol == "grpc" else "grpc"
    # the library's encoding, the whole batch at once (MARKETPLACE_OTLP_ENCODE_CHUNK is gRPC's
    # and refused with the other protocol)
    whole = {k: v for k, v in base.env.items() if k != CHUNK}
    found = {
        "shipped": base,
        "shipped_gunicorn": Profile("shipped_gunicorn", {**base.env, **gunicorn}, True, True),
        "stock": Profile("stock", stock, log_file=True, export=True),
        "sampled_10": Profile(
            "sampled_10",
            {
                **base.env,
                "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
                "OTEL_TRACES_SAMPLER_ARG": "0.1",
            },
            log_file=True,
            export=True,
        ),
        "signal_metrics": Profile(
            "signal_metrics", {**base.env, **QUIET, "OTEL_SDK_DISABLED": "true"}
        ),
        "signal_server_span": Profile(
            "signal_server_span",
            {**base.env, **QUIET, **NO_EXPORT, "MARKETPLACE_INTERNAL_SPANS": "false"},
        ),
        "signal_internal_spans": Profile(
            "signal_internal_spans", {**base.env, **QUIET, **NO_EXPORT}
        ),
        "signal_logs_stdout": Profile("signal_logs_stdout", {**base.env, **NO_EXPORT}),
        "signal_logs_file": Profile("signal_logs_file", {**base.env, **NO_EXPORT}, log_file=True),
        # the tail: the export's batch settings and protocol, one connection
        "export_sdk_defaults": Profile("export_sdk_defaults", sdk_bsp, True, True),
        "export_whole_batches": Profile("export_whole_batches", whole, True, True),
        # the protocol compose does not use, at compose's batch settings
        "export_other_protocol": Profile(
            "export_other_protocol",
            {**whole, "OTEL_EXPORTER_OTLP_PROTOCOL": other_protocol},
            log_file=True,
            export=True,
        ),
    }
    return found
