"""The two variants behind one interface.

v1 (SparqlStore): every search and lookup is SPARQL over the graph, no cache: the old marketplace.
v2 (IndexedStore): the in-memory index plus a TTL+LRU cache for search and lookup; SPARQL only
for the install closure, where a property path earns its place.
"""

from __future__ import annotations

import threading
import time

from cachetools import TTLCache
from rdflib import Literal

from .catalog import vocab
from .index import CatalogIndex
from .install import install_order
from .queries import RdfQueries


class RdfQueryError(Exception):
    """A SPARQL evaluation failed (error_type="rdf_query")."""


_MISS = object()


class Cache:
    """TTL+LRU cache shared by the request threads, instrumented per access."""

    def __init__(self, name: str, maxsize: int, ttl: float, metrics, tracer, faults):
        self.name = name
        self._cache: TTLCache = TTLCache(maxsize=maxsize, ttl=ttl)
        self._lock = threading.Lock()
        self.metrics, self.tracer, self.faults = metrics, tracer, faults
        metrics.cache_entries.labels(cache=name).set_function(self.__len__)

    def __len__(self) -> int:
        with self._lock:
            self._cache.expire()
            return len(self._cache)

    def get(self, key, usable=None):
        """The cached value, or _MISS; an entry `usable(value)` rejects counts as a miss."""
        start = time.time_ns()
        if self.faults.state.cache_bypass:
            value = _MISS
        else:
            with self._lock:
                value = self._cache.get(key, _MISS)
        if value is not _MISS and usable is not None and not usable(value):
            value = _MISS
        hit = value is not _MISS
        if not hit:
            # A span for a miss only: a hit is `marketplace.cache_hit=true` on the operation's
            # span, and a span of its own for a microsecond's dict read would be a third of
            # every search's spans, each priced at its export (docs/service.md, "What the
            # instrumentation costs"). A leaf, made once the outcome is known: started at the
            # access's start, never current (nothing runs inside it).
            self.tracer.start_span(
                "marketplace.cache.get",
                start_time=start,
                attributes={"marketplace.cache": self.name, "marketplace.cache_hit": False},
            ).end()
        self.metrics.cache_access(self.name, hit)
        return value

    def put(self, key, value) -> None:
        if not self.faults.state.cache_bypass:
            with self._lock:
                self._cache[key] = value


class _Store:
    variant = ""

    def __init__(self, graph, metrics, tracer, faults):
        self.graph = graph
        self.rdf = RdfQueries(graph, metrics, tracer, faults)

    def _query(self, name: str, **bindings) -> list:
        try:
            return self.rdf.run(name, bindings)
        except Exception as exc:  # rdflib raises many types; the caller needs one
            raise RdfQueryError(name) from exc

    def install_plan(self, package_id: str) -> list[dict]:
        """Ordered plan for a known package; raises DependencyCycle / MissingDependency."""
        rows = self._query("install_closure", root=vocab.package_iri(package_id))
        edges: dict[str, list[str]] = {}
        versions: dict[str, str] = {}
        for pkg, version, dep in rows:
            node = vocab.package_id(pkg)
            if version is None:
                continue  # a dangling dependency: not a package, reported by install_order
            versions[node] = str(version)
            targets = edges.setdefault(node, [])
            if dep is not None:
                targets.append(vocab.package_id(dep))
        return [{"id": p, "version": versions[p]} for p in install_order(package_id, edges)]


class SparqlStore(_Store):
    variant = "v1"

    def __init__(self, graph, metrics, tracer, faults):
        super().__init__(graph, metrics, tracer, faults)
        self.package_count = len(set(graph.subjects(predicate=vocab.NAME)))

    def search(self, query: str, limit: int) -> tuple[list[dict], bool | None]:
        rows = self._query("search", q=Literal(query))
        return [
            {
                "id": vocab.package_id(r.pkg),
                "name": str(r.name),
                "version": str(r.version),
                "description": str(r.description),
                "license": str(r.license),
                "downloads": int(r.downloads.toPython()),
            }
            for r in rows[:limit]
        ], None

    def lookup(self, package_id: str) -> tuple[dict | None, bool | None]:
        pkg = vocab.package_iri(package_id)
        rows = self._query("lookup", pkg=pkg)
        if not rows:
            return None, None
        r = rows[0]
        keywords = self._query("lookup_keywords", pkg=pkg)
        deps = self._query("lookup_dependencies", pkg=pkg)
        return {
            "id": package_id,
            "name": str(r.name),
            "version": str(r.version),
            "description": str(r.description),
            "license": str(r.license),
            "downloads": int(r.downloads.toPython()),
            "keywords": sorted(str(k.keyword) for k in keywords),
            "dependencies": sorted(
                (
                    {
                        "id": vocab.package_id(d.dep),
                        "name": None if d.name is None else str(d.name),
                        "version": None if d.version is None else str(d.version),
                    }
                    for d in deps
                ),
                key=lambda d: d["id"],
            ),
        }, None

    def exists(self, package_id: str) -> bool:
        return bool(self._query("lookup", pkg=vocab.package_iri(package_id)))


class IndexedStore(_Store):
    variant = "v2"

    def __init__(self, graph, metrics, tracer, faults, *, cache_size: int, cache_ttl: float):
        super().__init__(graph, metrics, tracer, faults)
        self.index = CatalogIndex(graph)
        self.package_count = len(self.index)
        self.search_cache = Cache("search", cache_size, cache_ttl, metrics, tracer, faults)
        self.lookup_cache = Cache("lookup", cache_size, cache_ttl, metrics, tracer, faults)

    def search(self, query: str, limit: int) -> tuple[list[dict], bool | None]:
        # One entry per query: the index ranks the same way whatever the limit, so a ranking cut
        # at N answers every limit up to N, and `?limit=10` after `?limit=20` is a hit. The entry
        # is (ranking, complete): complete when the index had fewer matches than were asked for,
        # so it answers any limit. A larger limit than the entry holds recomputes and replaces it.
        entry = self.search_cache.get(query, usable=lambda e: e[1] or len(e[0]) >= limit)
        if entry is not _MISS:
            return entry[0][:limit], True
        results = self.index.search(query, limit)
        self.search_cache.put(query, (results, len(results) < limit))
        return results, False

    def lookup(self, package_id: str) -> tuple[dict | None, bool | None]:
        found = self.lookup_cache.get(package_id)
        if found is not _MISS:
            return found, True
        found = self.index.lookup(package_id)
        if found is not None:
            # Unknown ids are not cached: a scan of random ids must not evict real entries.
            self.lookup_cache.put(package_id, found)
        return found, False

    def exists(self, package_id: str) -> bool:
        return self.index.lookup(package_id) is not None


def build_store(settings, graph, metrics, tracer, faults) -> _Store:
    if settings.variant == "v1":
        return SparqlStore(graph, metrics, tracer, faults)
    return IndexedStore(
        graph,
        metrics,
        tracer,
        faults,
        cache_size=settings.cache_size,
        cache_ttl=settings.cache_ttl_seconds,
    )
