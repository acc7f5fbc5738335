"""Where the load generator's terms and ids come from: the same catalog the service serves.

The generator reads the service's own settings variables (`MARKETPLACE_CATALOG_SIZE`, then
`MARKETPLACE_CATALOG`, else the shipped Turtle file), so given the same environment as its
targets it asks for packages that exist; unknown ids are only the few the mix adds on purpose.
A synthetic catalog is rebuilt from the deterministic generator rather than parsed from Turtle.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from rdflib import Graph
from rdflib.namespace import RDF

from marketplace.catalog import vocab
from marketplace.catalog.generate import generate
from marketplace.loadgen.mix import Vocabulary
from marketplace.settings import Settings

CATALOG_VARIABLES = ("MARKETPLACE_CATALOG", "MARKETPLACE_CATALOG_SIZE", "MARKETPLACE_CATALOG_SEED")


class PackageLike(Protocol):
    id: str
    keywords: tuple[str, ...]
    downloads: int


def from_packages(packages: Iterable[PackageLike]) -> Vocabulary:
    """Ids by downloads; terms (keywords and ids) by the downloads of the packages they find."""
    packages = list(packages)
    if not packages:
        raise ValueError("the catalog has no packages")
    by_downloads = sorted(packages, key=lambda p: (-p.downloads, p.id))
    term_weight: Counter[str] = Counter()
    for p in packages:
        term_weight[p.id] += p.downloads
        for keyword in p.keywords:
            term_weight[keyword] += p.downloads
    queries = sorted(term_weight, key=lambda term: (-term_weight[term], term))
    return Vocabulary(queries=tuple(queries), package_ids=tuple(p.id for p in by_downloads))


class _Package:
    def __init__(self, package_id: str) -> None:
        self.id = package_id
        self.keywords: tuple[str, ...] = ()
        self.downloads = 0


def from_graph(graph: Graph) -> Vocabulary:
    packages: dict[str, _Package] = {}

    def package(subject) -> _Package:
        package_id = vocab.package_id(subject)
        return packages.setdefault(package_id, _Package(package_id))

    for subject in graph.subjects(RDF.type, vocab.PACKAGE):
        package(subject)
    for subject, keyword in graph.subject_objects(vocab.KEYWORD):
        p = package(subject)
        p.keywords = (*p.keywords, str(keyword))
    for subject, downloads in graph.subject_objects(vocab.DOWNLOADS):
        package(subject).downloads = int(downloads)
    return from_packages(p for p in packages.values() if vocab.is_package_id(p.id))


def from_turtle(path: Path | str) -> Vocabulary:
    return from_graph(Graph().parse(str(path), format="turtle"))


def from_environment(env: Mapping[str, str] | None = None) -> tuple[Vocabulary, str]:
    """The vocabulary of the catalog the service's settings variables select, and its source."""
    env = os.environ if env is None else env
    # only the catalog's variables: the rest of the service's settings are not ours to validate
    settings = Settings.from_env({k: v for k, v in env.items() if k in CATALOG_VARIABLES})
    if settings.catalog_size:
        packages = generate(settings.catalog_size, settings.catalog_seed)
        source = (
            f"synthetic catalog of {settings.catalog_size} packages (seed {settings.catalog_seed})"
        )
        return from_packages(packages), source
    return from_turtle(settings.catalog), str(settings.catalog)
