"""The service's configuration: one frozen object, read from the environment once.

An invalid value raises SettingsError whose message is one line naming the variable;
`python -m marketplace` prints it and exits, so a typo stops start-up instead of half-working.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
VARIANTS = ("v1", "v2")
TRACES_EXPORTERS = ("otlp", "console", "none")
OTLP_PROTOCOLS = ("grpc", "http/protobuf")
SERVERS = ("granian", "gunicorn")
# lean: the shipped instrumentation; stock: the Flask instrumentor, the standard library's json
# and synchronous stdout-plus-file handlers, kept as the benchmark's baseline (docs/benchmark.md)
INSTRUMENTATIONS = ("lean", "stock")


class SettingsError(ValueError):
    """A configuration value that cannot be used; str() is a one-line message."""


def shipped_catalog() -> Path:
    return Path(str(resources.files("marketplace.catalog") / "data" / "packages.ttl"))


@dataclass(frozen=True)
class Settings:
    variant: str = "v2"
    catalog: Path = field(default_factory=shipped_catalog)
    catalog_size: int | None = None
    catalog_seed: int = 42
    host: str = "127.0.0.1"
    port: int = 8000
    threads: int = 8
    server: str = "granian"
    instrumentation: str = "lean"
    internal_spans: bool = True
    # (root level, ((logger name, level), ...)) parsed from MARKETPLACE_LOG_LEVEL
    log_level: int = logging.INFO
    logger_levels: tuple[tuple[str, int], ...] = ()
    log_file: Path | None = None
    admin_token: str | None = None
    cache_size: int = 10_000
    cache_ttl_seconds: float = 900.0
    environment: str = "local"
    # The standard OTEL_* variables that decide where traces go; the SDK reads the rest itself.
    otel_sdk_disabled: bool = False
    otel_service_name: str = "marketplace"
    traces_exporters: tuple[str, ...] = ()
    otlp_protocol: str = "grpc"
    # spans encoded at a time by the gRPC exporter, letting request threads in between; 0: the
    # whole batch at once, the library's way (marketplace/spanexport.py)
    otlp_encode_chunk: int = 0
    # how long a request waits for room in a full span queue while the exporter keeps up; 0:
    # the span is dropped at once, the SDK's way (marketplace/spanqueue.py)
    span_queue_wait_seconds: float = 0.1

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        r = _Reader(env)
        level, per_logger = r.log_levels("MARKETPLACE_LOG_LEVEL", "info")
        protocol = r.choice(
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
            if r.raw("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
            else "OTEL_EXPORTER_OTLP_PROTOCOL",
            OTLP_PROTOCOLS,
            "grpc",
        )
        return cls(
            variant=r.choice("MARKETPLACE_VARIANT", VARIANTS, "v2"),
            catalog=r.file("MARKETPLACE_CATALOG") or shipped_catalog(),
            catalog_size=r.integer("MARKETPLACE_CATALOG_SIZE", None, 1, 1_000_000),
            catalog_seed=r.integer("MARKETPLACE_CATALOG_SEED", 42, 0, 2**32 - 1),
            host=r.text("MARKETPLACE_HOST", "127.0.0.1"),
            port=r.integer("MARKETPLACE_PORT", 8000, 1, 65535),
            threads=r.integer("MARKETPLACE_THREADS", 8, 1, 256),
            server=r.choice("MARKETPLACE_SERVER", SERVERS, "granian"),
            instrumentation=r.choice("MARKETPLACE_INSTRUMENTATION", INSTRUMENTATIONS, "lean"),
            internal_spans=r.boolean("MARKETPLACE_INTERNAL_SPANS", True),
            log_level=level,
            logger_levels=per_logger,
            log_file=r.writable_path("MARKETPLACE_LOG_FILE"),
            admin_token=r.text("MARKETPLACE_ADMIN_TOKEN", None),
            cache_size=r.integer("MARKETPLACE_CACHE_SIZE", 10_000, 1, 10_000_000),
            cache_ttl_seconds=r.number("MARKETPLACE_CACHE_TTL_SECONDS", 900.0, 0.001, 86_400 * 7),
            environment=r.text("MARKETPLACE_ENVIRONMENT", "local"),
            otel_sdk_disabled=r.boolean("OTEL_SDK_DISABLED", False),
            otel_service_name=r.text("OTEL_SERVICE_NAME", "marketplace"),
            traces_exporters=r.traces_exporters(),
            otlp_protocol=protocol,
            otlp_encode_chunk=r.encode_chunk(protocol),
            span_queue_wait_seconds=r.number("MARKETPLACE_SPAN_QUEUE_WAIT_MS", 100, 0, 10_000)
            / 1000,
        )


class _Reader:
    """Typed getters; an empty variable counts as unset, like compose's `VAR=`."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env

    def raw(self, name: str) -> str | None:
        value = self.env.get(name)
        return value.strip() if value is not None and value.strip() else None

    def fail(self, name: str, expected: str, value: str) -> SettingsError:
        shown = value if len(value) <= 80 else value[:77] + "..."
        return SettingsError(f"{name}: expected {expected}, got {shown!r}")

    def text(self, name: str, default: str | None) -> str | None:
        value = self.raw(name)
        if value is not None and any(ord(c) < 32 for c in value):
            raise self.fail(name, "printable text", value)
        return value if value is not None else default

    def choice(self, name: str, allowed: tuple[str, ...], default: str) -> str:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() not in allowed:
            raise self.fail(name, " or ".join(allowed), value)
        return value.lower()

    def integer(self, name: str, default: int | None, low: int, high: int) -> int | None:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            raise self.fail(name, f"an integer {low}..{high}", value) from None
        if not low <= number <= high:
            raise self.fail(name, f"an integer {low}..{high}", value)
        return number

    def boolean(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise self.fail(name, "true or false", value)
        return value.lower() in ("true", "1", "yes")

    def traces_exporters(self) -> tuple[str, ...]:
        """OTEL_TRACES_EXPORTER as the spec defines it; unset means otlp only when an OTLP
        endpoint is configured, so a bare `python -m marketplace` exports nothing (and never
        logs connection errors to a collector that is not there)."""
        name = "OTEL_TRACES_EXPORTER"
        value = self.raw(name)
        if value is None:
            endpoints = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            return ("otlp",) if any(self.raw(e) for e in endpoints) else ()
        names = [n.strip().lower() for n in value.split(",") if n.strip()]
        if not names or any(n not in TRACES_EXPORTERS for n in names):
            raise self.fail(name, "otlp, console or none (comma-separated)", value)
        return tuple(dict.fromkeys(n for n in names if n != "none"))

    def encode_chunk(self, protocol: str) -> int:
        """MARKETPLACE_OTLP_ENCODE_CHUNK; refused with a protocol whose encoding it cannot
        change rather than silently ignored."""
        name = "MARKETPLACE_OTLP_ENCODE_CHUNK"
        chunk = self.integer(name, 0, 0, 100_000)
        if chunk and protocol != "grpc":
            raise self.fail(
                name, f"unset with the {protocol} protocol (it applies to grpc)", str(chunk)
            )
        return chunk

    def number(self, name: str, default: float, low: float, high: float) -> float:
        value = self.raw(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            raise self.fail(name, f"a number {low}..{high}", value) from None
        if not low <= number <= high:
            raise self.fail(name, f"a number {low}..{high}", value)
        return number

    def file(self, name: str) -> Path | None:
        value = self.raw(name)
        if value is None:
            return None
        path = Path(value)
        if not path.is_file() or not os.access(path, os.R_OK):
            raise self.fail(name, "a readable Turtle file", value)
        return path

    def writable_path(self, name: str) -> Path | None:
        value = self.raw(name)
        if value is None:
            return None
        path = Path(value)
        parent = path.parent if str(path.parent) else Path(".")
        if path.is_dir() or not parent.is_dir() or not os.access(parent, os.W_OK):
            raise self.fail(name, "a file path in a writable directory", value)
        return path

    def log_levels(self, name: str, default: str) -> tuple[int, tuple[tuple[str, int], ...]]:
        """`info,marketplace.search=debug`: a bare level for the root, `logger=level` per logger."""
        value = self.raw(name) or default
        root = LEVELS[default]
        per_logger: list[tuple[str, int]] = []
        for item in value.split(","):
            item = item.strip()
            if not item:
                continue
            logger, sep, level = item.rpartition("=")
            level = level.strip().lower()
            if level not in LEVELS or (sep and not logger.strip()):
                raise self.fail(name, "levels like 'info,marketplace.search=debug'", value)
            if sep:
                per_logger.append((logger.strip(), LEVELS[level]))
            else:
                root = LEVELS[level]
        return root, tuple(per_logger)


@functools.cache
def get_settings() -> Settings:
    """The process's settings, read from os.environ on first use only."""
    return Settings.from_env()
