"""The v2 in-memory index, built once from the graph at start.

Search ranks exactly like the v1 SPARQL query (queries.SEARCH): tier 3 exact name, 2 name
contains, 1 a keyword contains, 0 the description contains; then downloads, then name.
Packages are numbered in (downloads desc, name) order and each searchable field is one
lower-case string per tier, packages separated by "\\n" (a query never holds a control
character). `str.find` scans a tier in C and meets packages in rank order, so a search stops as
soon as `limit` results are found instead of scoring the whole catalog.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict

from rdflib import Graph
from rdflib.namespace import RDF

from .catalog import vocab


class _Tier:
    """One searchable field of every package, concatenated in rank order."""

    def __init__(self, texts: list[str]):
        self.starts: list[int] = []
        position = 0
        for text in texts:
            self.starts.append(position)
            position += len(text) + 1
        self.blob = "\n".join(texts) + "\n"

    def matches(self, query: str):
        """Package numbers whose field contains `query`, in rank order, each once."""
        starts, find = self.starts, self.blob.find
        end = len(starts)
        at = find(query)
        while at != -1:
            number = bisect_right(starts, at) - 1
            yield number
            if number + 1 >= end:
                return
            at = find(query, starts[number + 1])


class CatalogIndex:
    def __init__(self, graph: Graph):
        def single(predicate):
            return {s: o for s, o in graph.subject_objects(predicate)}

        names = single(vocab.NAME)
        versions = single(vocab.VERSION)
        descriptions = single(vocab.DESCRIPTION)
        licenses = single(vocab.LICENSE)
        downloads = single(vocab.DOWNLOADS)
        keywords: dict = defaultdict(list)
        for s, o in graph.subject_objects(vocab.KEYWORD):
            keywords[s].append(str(o))
        depends: dict = defaultdict(list)
        for s, o in graph.subject_objects(vocab.DEPENDS_ON):
            depends[s].append(o)

        fields = (names, versions, descriptions, licenses, downloads)
        iris = [s for s in graph.subjects(RDF.type, vocab.PACKAGE) if all(s in f for f in fields)]
        iris.sort(key=lambda s: (-int(downloads[s].toPython()), str(names[s])))

        self.summaries: list[dict] = []
        self.details: dict[str, dict] = {}
        self.exact: dict[str, list[int]] = defaultdict(list)
        for number, s in enumerate(iris):
            summary = {
                "id": vocab.package_id(s),
                "name": str(names[s]),
                "version": str(versions[s]),
                "description": str(descriptions[s]),
                "license": str(licenses[s]),
                "downloads": int(downloads[s].toPython()),
            }
            self.summaries.append(summary)
            self.exact[summary["name"].lower()].append(number)
        by_iri = dict(zip(iris, self.summaries, strict=True))
        for s, summary in by_iri.items():
            deps = []
            for dep in sorted(depends.get(s, ()), key=vocab.package_id):
                target = by_iri.get(dep)
                deps.append(
                    {
                        "id": vocab.package_id(dep),
                        "name": target["name"] if target else None,
                        "version": target["version"] if target else None,
                    }
                )
            self.details[summary["id"]] = {
                **summary,
                "keywords": sorted(keywords.get(s, ())),
                "dependencies": deps,
            }
        self.names = _Tier([s["name"].lower() for s in self.summaries])
        self.keywords = _Tier(["\x1f".join(keywords.get(s, ())).lower() for s in iris])
        self.descriptions = _Tier([s["description"].lower() for s in self.summaries])

    def __len__(self) -> int:
        return len(self.summaries)

    def search(self, query: str, limit: int) -> list[dict]:
        """Top `limit` packages for a lower-case, non-empty query without control characters."""
        chosen: list[int] = list(self.exact.get(query, ()))[:limit]
        seen = set(chosen)
        for tier in (self.names, self.keywords, self.descriptions):
            if len(chosen) >= limit:
                break
            for number in tier.matches(query):
                if number not in seen:
                    seen.add(number)
                    chosen.append(number)
                    if len(chosen) >= limit:
                        break
        return [self.summaries[n] for n in chosen]

    def lookup(self, package_id: str) -> dict | None:
        return self.details.get(package_id)
