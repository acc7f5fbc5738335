"""The pinned runtime set is consistent: every installed distribution the service depends on
(opentelemetry-* above all: sdk 1.45.2 would pin semantic-conventions 0.66b2 while
instrumentation-flask 0.66b1 pins 0.66b1) has its own requirements satisfied."""

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

pytestmark = pytest.mark.unit

PYPROJECT = Path(__file__).resolve().parents[2] / "service" / "pyproject.toml"


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def unmet(distribution: metadata.Distribution) -> list[str]:
    problems = []
    for text in distribution.requires or []:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
            continue
        found = installed_version(requirement.name)
        if found is None or not requirement.specifier.contains(found, prereleases=True):
            problems.append(f"{distribution.metadata['Name']} needs {requirement}, found {found}")
    return problems


def test_every_opentelemetry_distribution_has_its_requirements():
    names = {
        canonicalize_name(d.metadata["Name"])
        for d in metadata.distributions()
        if canonicalize_name(d.metadata["Name"]).startswith("opentelemetry-")
    }
    assert {"opentelemetry-sdk", "opentelemetry-instrumentation-flask"} <= names
    problems = [p for name in sorted(names) for p in unmet(metadata.distribution(name))]
    assert problems == []


def test_pins_are_exact_installed_and_satisfied():
    text = PYPROJECT.read_text()
    block = text[text.index("dependencies = [") : text.index("]", text.index("dependencies = ["))]
    pins = [Requirement(r) for r in re.findall(r'"([^"]+)"', block)]
    assert len(pins) >= 10
    for pin in pins:
        (spec,) = pin.specifier
        assert spec.operator == "==", pin
        assert installed_version(pin.name) == spec.version, pin
        assert unmet(metadata.distribution(pin.name)) == []
    assert unmet(metadata.distribution("marketplace")) == []


def test_the_known_bad_combination_would_be_caught():
    flask_instr = metadata.distribution("opentelemetry-instrumentation-flask")
    pinned = [
        Requirement(r)
        for r in flask_instr.requires or []
        if Requirement(r).name == "opentelemetry-semantic-conventions"
    ]
    assert pinned, "instrumentation pins semantic-conventions"
    assert not pinned[0].specifier.contains("0.66b2", prereleases=True)
    assert flask_instr.version == "0.66b1"
