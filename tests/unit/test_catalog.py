"""The catalog: the shipped Turtle file and the deterministic generator."""

import io
import subprocess
import sys

import pytest
from marketplace.catalog import generate, vocab
from marketplace.install import install_order
from marketplace.settings import shipped_catalog
from rdflib import Graph
from rdflib.compare import isomorphic

pytestmark = pytest.mark.unit


def edges_of(graph):
    edges = {vocab.package_id(s): [] for s in graph.subjects(predicate=vocab.NAME)}
    for s, o in graph.subject_objects(vocab.DEPENDS_ON):
        edges[vocab.package_id(s)].append(vocab.package_id(o))
    return edges


def test_shipped_catalog_is_realistic():
    graph = Graph().parse(shipped_catalog())
    edges = edges_of(graph)
    assert 100 <= len(edges) <= 200
    assert all(vocab.is_package_id(p) for p in edges)
    # every dependency is in the catalog, there is no cycle, and chains go several levels deep
    depths = {p: len(install_order(p, edges)) for p in edges}
    assert max(depths.values()) >= 8
    assert sum(1 for p in edges if edges[p]) >= 60
    for s in graph.subjects(predicate=vocab.NAME):
        for predicate in (vocab.VERSION, vocab.DESCRIPTION, vocab.LICENSE, vocab.DOWNLOADS):
            assert graph.value(s, predicate) is not None, (s, predicate)
        assert list(graph.objects(s, vocab.KEYWORD))


def test_generator_is_deterministic_and_seeded():
    assert generate.generate(300, 7) == generate.generate(300, 7)
    assert generate.generate(300, 7) != generate.generate(300, 8)
    assert generate.generate(50, 7) == generate.generate(300, 7)[:50]


def test_generated_catalog_has_unique_ids_chains_and_no_cycles():
    records = generate.generate(2000, 1)
    ids = [r.id for r in records]
    assert len(set(ids)) == len(ids) and all(vocab.is_package_id(i) for i in ids)
    edges = {r.id: list(r.depends_on) for r in records}
    assert max(len(install_order(r.id, edges)) for r in records[-200:]) >= 4
    downloads = [r.downloads for r in records]
    assert downloads[0] > downloads[100] > downloads[1000]


def test_turtle_and_direct_graph_are_the_same_graph():
    records = generate.generate(120, 3)
    out = io.StringIO()
    generate.write_turtle(records, out, "comment line")
    parsed = Graph().parse(data=out.getvalue(), format="turtle")
    assert isomorphic(parsed, generate.add_to_graph(records))


def test_generator_command_writes_a_file(tmp_path):
    path = tmp_path / "catalog.ttl"
    command = [sys.executable, "-m", "marketplace.catalog.generate", "--size", "25", "--seed", "9"]
    subprocess.run([*command, "--out", str(path)], check=True, timeout=60)
    again = subprocess.run(command, check=True, timeout=60, capture_output=True, text=True).stdout
    assert path.read_text() == again
    assert len(set(Graph().parse(path).subjects(predicate=vocab.NAME))) == 25


def test_generator_command_rejects_bad_size():
    result = subprocess.run(
        [sys.executable, "-m", "marketplace.catalog.generate", "--size", "0"],
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2 and b"--size" in result.stderr
