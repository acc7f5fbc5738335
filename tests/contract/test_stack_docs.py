"""docs/stack.md and the README stay true to .env: the URLs, the pinned images, the sections."""

from __future__ import annotations

import re

import pytest
import stackfiles as sf

pytestmark = pytest.mark.contract

DOC = sf.REPO / "docs" / "stack.md"
URL_TABLES = [DOC, sf.REPO / "README.md"]


@pytest.fixture(scope="module", params=URL_TABLES, ids=lambda p: p.name)
def text(request):
    return request.param.read_text(encoding="utf-8")


def test_every_loopback_url_uses_a_published_port_from_dotenv(text):
    published = {v for k, v in sf.env().items() if k.endswith("_HOST_PORT")}
    published.add(sf.env()["MARKETPLACE_PORT"])  # `make run` serves the service alone on it
    ports = set(re.findall(r"127\.0\.0\.1:(\d+)", text))
    assert ports, "no URL table"
    assert ports <= published, sorted(ports - published)


def test_every_published_component_is_in_the_url_table(text):
    for component, (_, host_key) in sf.topology.COMPONENTS.items():
        if host_key:
            assert f"127.0.0.1:{sf.env()[host_key]}" in text, component


def test_the_pinned_images_named_are_the_ones_in_dotenv(text):
    named = set(re.findall(r"`((?:grafana|prom|otel)/[\w-]+:[\w.]+)`", text))
    pinned = {v for k, v in sf.env().items() if k.endswith("_IMAGE")}
    assert named, "no image table"
    assert named <= pinned, sorted(named - pinned)


def test_required_sections_are_there():
    text = DOC.read_text(encoding="utf-8")
    assert "```mermaid" in text
    assert "2026-03-02" in text and "alloy convert --source-format=promtail" in text
    assert "## Resource needs" in text
    assert "## Tracing a slow search" in text
    assert "## Checked on paper" in text
