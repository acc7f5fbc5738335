"""Install plans: dependencies before dependants, deterministic, and cycles named."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


class DependencyCycle(Exception):
    def __init__(self, cycle: Sequence[str]):
        self.cycle = list(cycle)
        super().__init__("dependency cycle: " + " -> ".join(self.cycle))


class MissingDependency(Exception):
    def __init__(self, package: str, dependency: str):
        self.package, self.dependency = package, dependency
        super().__init__(f"{package} depends on {dependency}, which is not in the catalog")


def install_order(root: str, edges: Mapping[str, Sequence[str]]) -> list[str]:
    """Post-order walk from `root` over `edges` (package -> direct dependencies).

    Children are visited in sorted order so the same graph always gives the same plan. A back
    edge to a package still on the walk's path is a cycle, reported from its first package back
    to itself (a -> b -> a). Iterative, so a deep chain cannot hit the recursion limit.
    """
    order: list[str] = []
    done: set[str] = set()
    on_path: dict[str, int] = {}
    path: list[str] = []
    stack: list[tuple[str, list[str]]] = []

    def enter(node: str) -> None:
        if node not in edges:
            raise MissingDependency(path[-1] if path else root, node)
        on_path[node] = len(path)
        path.append(node)
        stack.append((node, sorted(edges[node], reverse=True)))

    enter(root)
    while stack:
        node, pending = stack[-1]
        if pending:
            child = pending.pop()
            if child in done:
                continue
            if child in on_path:
                raise DependencyCycle([*path[on_path[child] :], child])
            enter(child)
            continue
        stack.pop()
        path.pop()
        del on_path[node]
        done.add(node)
        order.append(node)
    return order
