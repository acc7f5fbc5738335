"""The graph the service serves: the shipped Turtle file, another file, or a synthetic catalog."""

from __future__ import annotations

import logging
import time

from rdflib import Graph

from ..settings import Settings
from . import generate

log = logging.getLogger("marketplace.catalog")


def load_graph(settings: Settings) -> Graph:
    start = time.perf_counter()
    if settings.catalog_size:
        graph = generate.add_to_graph(
            generate.generate(settings.catalog_size, settings.catalog_seed)
        )
        source = f"synthetic:{settings.catalog_size}:seed={settings.catalog_seed}"
    else:
        graph = Graph().parse(settings.catalog, format="turtle")
        source = str(settings.catalog)
    log.info(
        "Catalog loaded",
        extra={
            "source": source,
            "triples": len(graph),
            "duration_ms": round((time.perf_counter() - start) * 1000, 1),
        },
    )
    return graph
