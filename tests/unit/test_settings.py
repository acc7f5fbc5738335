"""Settings: defaults, parsing, and a one-line message naming the variable for a bad value."""

import logging
import subprocess
import sys

import pytest
from marketplace.settings import Settings, SettingsError, shipped_catalog

pytestmark = pytest.mark.unit


def test_defaults():
    s = Settings.from_env({})
    assert (s.variant, s.host, s.port, s.threads) == ("v2", "127.0.0.1", 8000, 8)
    assert s.catalog == shipped_catalog() and s.catalog.is_file()
    assert s.catalog_size is None and s.admin_token is None and s.log_file is None
    assert s.log_level == logging.INFO and s.logger_levels == ()
    assert s.environment == "local" and s.traces_exporters == () and not s.otel_sdk_disabled


def test_values_are_read(tmp_path):
    catalog = tmp_path / "c.ttl"
    catalog.write_text("")
    s = Settings.from_env(
        {
            "MARKETPLACE_VARIANT": "V1",
            "MARKETPLACE_CATALOG": str(catalog),
            "MARKETPLACE_CATALOG_SIZE": "10000",
            "MARKETPLACE_HOST": "0.0.0.0",
            "MARKETPLACE_PORT": "8001",
            "MARKETPLACE_THREADS": "16",
            "MARKETPLACE_LOG_LEVEL": "warning, marketplace.search=DEBUG,gunicorn.error=error",
            "MARKETPLACE_LOG_FILE": str(tmp_path / "m.log"),
            "MARKETPLACE_ADMIN_TOKEN": "t",
            "MARKETPLACE_CACHE_SIZE": "50",
            "MARKETPLACE_CACHE_TTL_SECONDS": "2.5",
            "MARKETPLACE_ENVIRONMENT": "staging",
            "OTEL_TRACES_EXPORTER": "otlp",
        }
    )
    assert s.variant == "v1" and s.catalog == catalog and s.catalog_size == 10000
    assert (s.host, s.port, s.threads) == ("0.0.0.0", 8001, 16)
    assert s.log_level == logging.WARNING
    assert s.logger_levels == (
        ("marketplace.search", logging.DEBUG),
        ("gunicorn.error", logging.ERROR),
    )
    assert s.cache_size == 50 and s.cache_ttl_seconds == 2.5 and s.environment == "staging"
    assert s.traces_exporters == ("otlp",) and s.admin_token == "t"


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        Settings().port = 1


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MARKETPLACE_VARIANT", "v3"),
        ("MARKETPLACE_CATALOG", "/no/such/file.ttl"),
        ("MARKETPLACE_CATALOG_SIZE", "0"),
        ("MARKETPLACE_CATALOG_SIZE", "ten"),
        ("MARKETPLACE_PORT", "70000"),
        ("MARKETPLACE_PORT", "80a"),
        ("MARKETPLACE_THREADS", "0"),
        ("MARKETPLACE_LOG_LEVEL", "verbose"),
        ("MARKETPLACE_LOG_LEVEL", "info,marketplace.search"),
        ("MARKETPLACE_LOG_LEVEL", "info,=debug"),
        ("MARKETPLACE_LOG_FILE", "/no/such/dir/x.log"),
        ("MARKETPLACE_CACHE_SIZE", "-5"),
        ("MARKETPLACE_CACHE_TTL_SECONDS", "soon"),
        ("MARKETPLACE_ADMIN_TOKEN", "a\nb"),
        ("OTEL_SDK_DISABLED", "maybe"),
        ("OTEL_TRACES_EXPORTER", "zipkin"),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
    ],
)
def test_invalid_value_names_the_variable(name, value):
    with pytest.raises(SettingsError) as info:
        Settings.from_env({name: value})
    message = str(info.value)
    assert message.startswith(f"{name}: ") and "\n" not in message


def test_empty_means_unset():
    assert Settings.from_env({"MARKETPLACE_PORT": "", "MARKETPLACE_VARIANT": " "}).port == 8000


def test_server_refuses_to_start_with_a_one_line_message():
    env = {"MARKETPLACE_PORT": "not-a-port", "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "marketplace"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "MARKETPLACE_PORT" in lines[0] and "not-a-port" in lines[0]
