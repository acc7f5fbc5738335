"""Loki 3.x single-binary config on paper: tsdb v13 on the filesystem, auth off, retention."""

from __future__ import annotations

import pytest
import stackfiles as sf

from ops.promapi import parse_duration

pytestmark = pytest.mark.contract


@pytest.fixture(scope="module")
def config():
    return sf.load_yaml("loki/loki.yaml")


def test_auth_is_off_so_promtail_and_grafana_need_no_tenant(config):
    assert config["auth_enabled"] is False


def test_listens_on_the_dotenv_port(config):
    assert config["server"]["http_listen_port"] == "${LOKI_PORT}"


def test_single_binary_on_the_filesystem(config):
    common = config["common"]
    assert common["replication_factor"] == 1
    assert common["ring"]["kvstore"]["store"] == "inmemory"
    assert common["path_prefix"] == "/loki"
    for directory in common["storage"]["filesystem"].values():
        assert directory.startswith("/loki/"), directory


def test_current_schema_is_tsdb_v13_on_the_filesystem(config):
    current = config["schema_config"]["configs"][-1]
    assert current["store"] == "tsdb"
    assert current["schema"] == "v13"
    assert current["object_store"] == "filesystem"
    assert current["index"]["period"] == "24h"


def test_structured_metadata_is_allowed_for_trace_ids(config):
    # The default, written out because Promtail's structured_metadata stage depends on it.
    assert config["limits_config"]["allow_structured_metadata"] is True


def test_retention_runs_through_the_compactor(config):
    compactor = config["compactor"]
    assert compactor["retention_enabled"] is True
    # Required once retention is on; Loki refuses to start without it.
    assert compactor["delete_request_store"] == "filesystem"
    assert compactor["working_directory"].startswith("/loki/")
    assert parse_duration(config["limits_config"]["retention_period"]) >= 24 * 3600


def test_data_directory_is_the_named_volume():
    mounts = {m["target"]: m for m in sf.mounts(sf.services()["loki"])}
    assert mounts["/loki"]["type"] == "volume"
