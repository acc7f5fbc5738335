"""The README's "On Kubernetes" section and docs/kubernetes.md install what deploy/ pins."""

from __future__ import annotations

import re

import k8s_render as kr
import k8s_vendor as kv
import pytest

pytestmark = pytest.mark.kubernetes

NAMESPACE = kr.load(kr.DEPLOY / "helm" / "charts.yaml")["namespace"]


def _readme_section() -> str:
    text = (kr.REPO / "README.md").read_text()
    match = re.search(r"^## On Kubernetes\n(.*?)^## ", text, re.MULTILINE | re.DOTALL)
    assert match, "README.md has no '## On Kubernetes' section before the next one"
    return match.group(1)


def _install_line(entry: dict) -> str:
    chart = entry["chart"]
    return (
        f"helm upgrade --install {entry['release']} {entry['repository']}/{chart}"
        f" --version {entry['version']} -n {NAMESPACE}"
        f" -f deploy/helm/{chart}/values.yaml -f deploy/helm/{chart}/generated.yaml"
    )


DOCS = {
    "README": _readme_section,
    "docs/kubernetes.md": lambda: (kr.REPO / "docs/kubernetes.md").read_text(),
}


@pytest.mark.parametrize("where", DOCS)
def test_each_pinned_chart_is_installed_with_its_version_and_our_two_values_files(where):
    text = DOCS[where]()
    for entry in kv.pinned_charts():
        assert _install_line(entry) in text, entry["chart"]
    assert "kubectl apply -k deploy/kubernetes" in text


def test_the_readme_section_comes_just_before_the_layout():
    text = (kr.REPO / "README.md").read_text()
    headings = re.findall(r"^## (.+)$", text, re.MULTILINE)
    assert headings.index("Layout") == headings.index("On Kubernetes") + 1


def test_the_docs_add_each_chart_repository_they_install_from():
    text = DOCS["docs/kubernetes.md"]()
    for entry in kv.pinned_charts():
        assert f"helm repo add {entry['repository']} {entry['url']}" in text, entry["repository"]


def test_the_sizing_names_the_command_that_measured_it():
    text = DOCS["docs/kubernetes.md"]()
    assert ".venv/bin/python -m ops.k8s.measure" in text
    for heading in (
        "### Measured here",
        "### At 10, 100 and 1,000 replicas",
        "## Checked here, and only on paper",
    ):
        assert heading in text
