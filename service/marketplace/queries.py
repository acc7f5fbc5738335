"""The SPARQL the service runs, each under a fixed name (the `query` metric label and span name).

User text never becomes query text: every query is parsed once at import and values (the search
string, a package IRI) are bound with initBindings at execution, so quotes, braces or `DROP`
in a search are just characters to look for.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

from rdflib import Graph
from rdflib.plugins.sparql import prepareQuery
from rdflib.term import Identifier

from .catalog import vocab

_NS = {"mp": vocab.MP}

# Score tiers shared with the v2 index (index.py), which must rank identically:
# 3 exact name, 2 name contains, 1 a keyword contains, 0 the description contains.
# Ties: most downloads first, then name. ?q is already lower-case. Scoring in a subquery
# before joining the other fields is ~40% faster in rdflib than one flat pattern.
SEARCH = """
SELECT ?pkg ?name ?version ?description ?license ?downloads ?score WHERE {
  {
    SELECT ?pkg ?name ?description ?score WHERE {
      ?pkg mp:name ?name ; mp:description ?description .
      BIND(LCASE(?name) AS ?lname)
      BIND(IF(?lname = ?q, 3, IF(CONTAINS(?lname, ?q), 2,
           IF(EXISTS { ?pkg mp:keyword ?kw . FILTER(CONTAINS(LCASE(?kw), ?q)) }, 1,
           IF(CONTAINS(LCASE(?description), ?q), 0, -1)))) AS ?score)
      FILTER(?score >= 0)
    }
  }
  ?pkg a mp:Package ; mp:version ?version ; mp:license ?license ; mp:downloads ?downloads .
} ORDER BY DESC(?score) DESC(?downloads) ?name
"""

LOOKUP = """
SELECT ?name ?version ?description ?license ?downloads WHERE {
  ?pkg a mp:Package ; mp:name ?name ; mp:version ?version ; mp:description ?description ;
       mp:license ?license ; mp:downloads ?downloads .
}
"""

LOOKUP_KEYWORDS = "SELECT ?keyword WHERE { ?pkg mp:keyword ?keyword }"

LOOKUP_DEPENDENCIES = """
SELECT ?dep ?name ?version WHERE {
  ?pkg mp:dependsOn ?dep .
  OPTIONAL { ?dep mp:name ?name ; mp:version ?version }
}
"""

# The transitive closure as a property path: every package reachable from ?root (itself
# included, zero steps), its version, and its direct dependencies; the plan is ordered in Python.
INSTALL_CLOSURE = """
SELECT ?pkg ?version ?dep WHERE {
  ?root mp:dependsOn* ?pkg .
  OPTIONAL { ?pkg mp:version ?version }
  OPTIONAL { ?pkg mp:dependsOn ?dep }
}
"""

PREPARED = {
    name: prepareQuery(text, initNs=_NS)
    for name, text in {
        "search": SEARCH,
        "lookup": LOOKUP,
        "lookup_keywords": LOOKUP_KEYWORDS,
        "lookup_dependencies": LOOKUP_DEPENDENCIES,
        "install_closure": INSTALL_CLOSURE,
    }.items()
}


class RdfQueries:
    """Runs the named queries over a graph, each in a span, timed, and slowed by rdf faults."""

    def __init__(self, graph: Graph, metrics, tracer, faults):
        self.graph = graph
        self.metrics = metrics
        self.tracer = tracer
        self.faults = faults

    def run(self, name: str, bindings: Mapping[str, Identifier]) -> list:
        query = PREPARED[name]
        with self.tracer.start_as_current_span(
            "marketplace.rdf.query",
            attributes={
                "db.system": "rdflib",
                "db.operation": "SELECT",
                "marketplace.rdf.query": name,
            },
        ) as span:
            start = time.perf_counter()
            self.faults.delay("rdf_latency_ms")
            rows = list(self.graph.query(query, initBindings=bindings))
            elapsed = time.perf_counter() - start
            span.set_attribute("marketplace.rdf.rows", len(rows))
            self.metrics.observe(self.metrics.rdf_query_duration.labels(query=name), elapsed)
            return rows
