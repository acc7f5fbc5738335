"""Install ordering: dependencies first, deterministic, cycles named."""

import pytest
from marketplace.install import DependencyCycle, MissingDependency, install_order

pytestmark = pytest.mark.unit


def test_dependencies_come_first_and_order_is_stable():
    edges = {"app": ["web", "db"], "web": ["util"], "db": ["util"], "util": []}
    order = install_order("app", edges)
    assert order == ["util", "db", "web", "app"]  # children in sorted order
    assert order == install_order("app", dict(reversed(list(edges.items()))))
    assert order[-1] == "app" and order.count("util") == 1
    assert order.index("util") < order.index("web") and order.index("util") < order.index("db")


def test_self_dependency_is_a_cycle():
    with pytest.raises(DependencyCycle) as info:
        install_order("a", {"a": ["a"]})
    assert info.value.cycle == ["a", "a"]


def test_cycle_is_named_from_its_entry():
    edges = {"root": ["x"], "x": ["y"], "y": ["z"], "z": ["x"]}
    with pytest.raises(DependencyCycle) as info:
        install_order("root", edges)
    assert info.value.cycle == ["x", "y", "z", "x"]
    assert str(info.value) == "dependency cycle: x -> y -> z -> x"


def test_missing_dependency():
    with pytest.raises(MissingDependency) as info:
        install_order("a", {"a": ["b"], "b": ["ghost"]})
    assert (info.value.package, info.value.dependency) == ("b", "ghost")


def test_deep_chain_does_not_recurse():
    edges = {f"p{i}": [f"p{i + 1}"] for i in range(5000)}
    edges["p5000"] = []
    order = install_order("p0", edges)
    assert order[0] == "p5000" and order[-1] == "p0" and len(order) == 5001
