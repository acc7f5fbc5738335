"""The vendored references (tests/kubernetes/schemas/) are what ../shared holds: the chart defaults
at the pinned versions and the Prometheus Operator v0.93.0 CRDs. ../shared sits beside the clone
in CI; elsewhere these skip, and the other tests run on the vendored copies."""

from __future__ import annotations

import k8s_vendor as kv
import pytest

from tests.conftest import IN_CI

pytestmark = pytest.mark.kubernetes


def _require_shared():
    if kv.HELM_REFERENCE.is_dir() and kv.CRD_REFERENCE.is_dir():
        return
    message = f"{kv.SHARED} is not beside the clone"
    if IN_CI:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def test_every_vendored_file_is_what_the_shared_references_give():
    _require_shared()
    expected = kv.everything()
    on_disk = {p.name: p.read_text() for p in kv.SCHEMAS.iterdir() if p.name != "README.md"}
    assert sorted(on_disk) == sorted(expected), "run python -m tests.kubernetes.k8s_vendor"
    for name, text in expected.items():
        assert on_disk[name] == text, f"{name}: run python -m tests.kubernetes.k8s_vendor"


def test_each_pinned_chart_is_in_the_shared_references_at_that_version():
    _require_shared()
    for entry in kv.pinned_charts():
        folder = kv.HELM_REFERENCE / f"{entry['chart']}-{entry['version']}"
        assert (folder / "values.yaml").is_file(), folder
