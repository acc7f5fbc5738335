"""Deterministic synthetic catalogs for scale tests: the same size and seed give the same graph.

    python -m marketplace.catalog.generate --size 10000 --seed 42 --out catalog.ttl

Dependencies only point at packages generated earlier, so a synthetic catalog has no cycles, and
they favour popular packages, so install closures form realistic chains a few levels deep.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TextIO

from rdflib import Graph, Literal
from rdflib.namespace import RDF, XSD

from . import vocab


@dataclass(frozen=True)
class PackageRecord:
    id: str
    version: str
    description: str
    license: str
    downloads: int
    keywords: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = field(default=())


_PREFIXES = [
    *("py", "fast", "async", "tiny", "open", "smart", "micro", "deep", "easy", "hyper"),
    *("auto", "multi", "poly", "neo", "meta", "simple", "quick", "super", "flex", "data"),
]
_SUFFIXES = ["", "lib", "kit", "tools", "py", "io", "x", "core", "utils", "ng", "plus", "lite"]
# stem: the keywords it implies
_TOPICS = {
    stem: words.split()
    for stem, _, words in (
        line.partition(":")
        for line in """json: json serialization
http: http web client
yaml: yaml config
sql: database sql orm
cache: cache performance
queue: queue async
crypt: crypto security
log: logging observability
graph: graph network
stream: streaming io
parse: parser text
mail: email smtp
image: image graphics
table: dataframe tabular
config: config settings
test: testing mock
plot: plotting visualization
vector: math simd
socket: network socket
task: scheduler jobs
schema: validation schema
date: datetime timezone
text: text unicode
money: finance currency
geo: geospatial maps
auth: authentication oauth
cli: cli terminal
xml: xml markup
rdf: rdf semantic-web
pool: pooling concurrency
lint: linting code-quality
trace: tracing observability
metric: metrics monitoring
store: storage key-value
file: filesystem io
zip: compression archive
hash: hashing checksum
token: tokenizer nlp
search: search indexing
template: templating html""".splitlines()
    )
}
_STEMS = list(_TOPICS)
_ADJECTIVES = [
    *("A fast", "A small", "A typed", "A pure-Python", "An async", "A zero-dependency"),
    *("A battle-tested", "A minimal", "A pluggable", "A thread-safe"),
]
_NOUNS = ["library", "toolkit", "framework", "client", "engine", "adapter", "helper", "backend"]
_LICENSES = ["MIT", "Apache-2.0", "BSD-3-Clause", "BSD-2-Clause", "MPL-2.0", "LGPL-3.0", "ISC"]


def generate(size: int, seed: int = 42) -> list[PackageRecord]:
    """`size` packages drawn from `seed` alone; the first ones are the most downloaded."""
    if size < 1:
        raise ValueError("size must be at least 1")
    rng = random.Random(seed)  # noqa: S311 - reproducible data, not secrets
    records: list[PackageRecord] = []
    seen: set[str] = set()
    for rank in range(size):
        stem = rng.choice(_STEMS)
        base = rng.choice(_PREFIXES) + stem + rng.choice(_SUFFIXES)
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base}{n}"
        seen.add(name)
        topics = _TOPICS[stem]
        extra = _TOPICS[rng.choice(_STEMS)]
        keywords = tuple(sorted({*topics, rng.choice(extra)}))
        description = (
            f"{rng.choice(_ADJECTIVES)} {' and '.join(topics)} {rng.choice(_NOUNS)} "
            f"with {rng.choice(extra)} support."
        )
        # Zipf-like popularity: rank 0 is the most downloaded, with some noise.
        downloads = max(1, int(50_000_000 / (rank + 1) ** 1.1 * rng.uniform(0.8, 1.2)))
        deps: set[str] = set()
        if rank:
            for _ in range(rng.choice((0, 0, 1, 1, 2, 3))):
                # Square the draw to favour popular (low-rank) packages, as real ecosystems do.
                deps.add(records[int(rank * rng.random() ** 2)].id)
        records.append(
            PackageRecord(
                id=name,
                version=f"{rng.randint(0, 4)}.{rng.randint(0, 30)}.{rng.randint(0, 12)}",
                description=description,
                license=rng.choice(_LICENSES),
                downloads=downloads,
                keywords=keywords,
                depends_on=tuple(sorted(deps)),
            )
        )
    return records


def add_to_graph(records: Iterable[PackageRecord], graph: Graph | None = None) -> Graph:
    """Triples straight into a graph: much faster than writing Turtle and parsing it back."""
    graph = graph if graph is not None else Graph()
    graph.bind("mp", vocab.MP)
    graph.bind("pkg", vocab.PKG)
    add = graph.add
    for r in records:
        s = vocab.package_iri(r.id)
        add((s, RDF.type, vocab.PACKAGE))
        add((s, vocab.NAME, Literal(r.id)))
        add((s, vocab.VERSION, Literal(r.version)))
        add((s, vocab.DESCRIPTION, Literal(r.description)))
        add((s, vocab.LICENSE, Literal(r.license)))
        add((s, vocab.DOWNLOADS, Literal(r.downloads, datatype=XSD.integer)))
        for kw in r.keywords:
            add((s, vocab.KEYWORD, Literal(kw)))
        for dep in r.depends_on:
            add((s, vocab.DEPENDS_ON, vocab.package_iri(dep)))
    return graph


def _quote(text: str) -> str:
    escaped = (
        text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    )
    return f'"{escaped}"'


def write_turtle(records: Iterable[PackageRecord], out: TextIO, comment: str = "") -> None:
    """Turtle written directly (rdflib's serializer is slow at 10,000 packages)."""
    if comment:
        for line in comment.splitlines():
            out.write(f"# {line}\n")
    out.write(f"@prefix mp: <{vocab.MP}> .\n@prefix pkg: <{vocab.PKG}> .\n")
    out.write("@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .\n")
    for r in records:
        if not vocab.is_package_id(r.id):
            raise ValueError(f"not a valid package id: {r.id!r}")
        lines = [
            f"\npkg:{r.id} a mp:Package",
            f"    mp:name {_quote(r.id)}",
            f"    mp:version {_quote(r.version)}",
            f"    mp:description {_quote(r.description)}",
            f"    mp:license {_quote(r.license)}",
            f"    mp:downloads {int(r.downloads)}",
        ]
        if r.keywords:
            lines.append("    mp:keyword " + ", ".join(_quote(k) for k in r.keywords))
        if r.depends_on:
            lines.append("    mp:dependsOn " + ", ".join(f"pkg:{d}" for d in r.depends_on))
        out.write(" ;\n".join(lines) + " .\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m marketplace.catalog.generate",
        description="Write a deterministic synthetic package catalog as Turtle.",
    )
    parser.add_argument("--size", type=int, required=True, help="number of packages")
    parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    parser.add_argument("--out", default="-", help="output file (default: stdout)")
    args = parser.parse_args(argv)
    if args.size < 1:
        parser.error("--size must be at least 1")
    records = generate(args.size, args.seed)
    comment = f"Synthetic marketplace catalog: {args.size} packages, seed {args.seed}."
    if args.out == "-":
        write_turtle(records, sys.stdout, comment)
    else:
        with open(args.out, "w", encoding="utf-8") as fh:
            write_turtle(records, fh, comment)
    return 0


if __name__ == "__main__":
    sys.exit(main())
