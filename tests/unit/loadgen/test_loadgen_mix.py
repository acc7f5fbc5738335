"""The load generator's mix: Zipf sampling, the plan of requests, and the vocabulary it draws on."""

from __future__ import annotations

import itertools
from collections import Counter
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from marketplace.catalog.generate import add_to_graph, generate
from marketplace.loadgen import vocabulary
from marketplace.loadgen.mix import Mix, Planner, Zipf, search_path

from tests.unit.loadgen.fakes import WORDS

pytestmark = pytest.mark.unit


# --- Zipf ---------------------------------------------------------------------------------


def test_zipf_probabilities_follow_the_power_law():
    zipf = Zipf(100, exponent=1.2)
    probabilities = [zipf.probability(k) for k in range(100)]
    assert sum(probabilities) == pytest.approx(1.0)
    assert all(a > b for a, b in itertools.pairwise(probabilities))
    assert probabilities[0] / probabilities[1] == pytest.approx(2**1.2)
    assert probabilities[0] / probabilities[9] == pytest.approx(10**1.2)


def test_zipf_samples_match_the_probabilities_and_repeat_with_a_seed():
    import random

    zipf = Zipf(50, exponent=1.1)
    draws = [zipf.sample(random.Random(7)) for _ in range(3)]  # noqa: S311
    assert len(set(draws)) == 1  # same seed, same first draw
    rng = random.Random(3)  # noqa: S311
    counts = Counter(zipf.sample(rng) for _ in range(40_000))
    assert set(counts) <= set(range(50))
    for rank in (0, 1, 4):
        assert counts[rank] / 40_000 == pytest.approx(zipf.probability(rank), abs=0.01)
    assert counts[0] > counts[1] > counts[4] > counts[40]


def test_zipf_rejects_an_empty_range():
    with pytest.raises(ValueError):
        Zipf(0)


# --- the mix ------------------------------------------------------------------------------


def kinds_of(plans):
    return Counter(p.kind for p in plans)


def test_same_seed_same_plan_other_seed_other_plan():
    first = [Planner(WORDS, seed=11).next() for _ in range(1)]
    a = Planner(WORDS, seed=11)
    b = Planner(WORDS, seed=11)
    c = Planner(WORDS, seed=12)
    run_a = [a.next() for _ in range(500)]
    assert run_a == [b.next() for _ in range(500)]
    assert run_a != [c.next() for _ in range(500)]
    assert run_a[0] == first[0]


def test_mix_is_mostly_searches_with_a_few_lookups_and_installs():
    planner = Planner(WORDS, Mix(search=0.8, lookup=0.16, install=0.04), seed=5)
    plans = [planner.next() for _ in range(20_000)]
    shares = {kind: n / len(plans) for kind, n in kinds_of(plans).items()}
    assert shares["search"] == pytest.approx(0.80, abs=0.02)
    assert shares["lookup"] == pytest.approx(0.16, abs=0.02)
    assert shares["install"] == pytest.approx(0.04, abs=0.01)
    installs = [p for p in plans if p.kind == "install"]
    assert all(p.method == "POST" and p.path.endswith("/install") for p in installs)


def test_search_terms_are_zipf_ranked_and_some_find_nothing():
    planner = Planner(WORDS, Mix(search=1, lookup=0, install=0, zero_result_share=0.1), seed=9)
    plans = [planner.next() for _ in range(20_000)]
    queries = [parse_qs(urlsplit(p.path).query)["q"][0] for p in plans]
    zero = [q for p, q in zip(plans, queries, strict=True) if not p.expect_found]
    assert len(zero) / len(plans) == pytest.approx(0.1, abs=0.01)
    assert not set(zero) & set(WORDS.queries)
    counts = Counter(q for q in queries if q in WORDS.queries)
    assert counts["term0"] > counts["term1"] > counts["term9"] > counts["term49"]
    assert counts["term0"] / counts["term9"] == pytest.approx(10**1.1, rel=0.2)


def test_lookups_are_known_ids_except_a_few_unknown_ones():
    planner = Planner(WORDS, Mix(search=0, lookup=1, install=0, unknown_id_share=0.05), seed=2)
    plans = [planner.next() for _ in range(10_000)]
    ids = [unquote(p.path.rsplit("/", 1)[1]) for p in plans]
    unknown = [i for i in ids if i not in WORDS.package_ids]
    assert len(unknown) / len(ids) == pytest.approx(0.05, abs=0.01)
    assert all(p.expect_found == (i in WORDS.package_ids) for p, i in zip(plans, ids, strict=True))
    assert all(p.method == "GET" and p.path.startswith("/api/v1/packages/") for p in plans)


def test_limits_are_the_default_or_in_range():
    planner = Planner(WORDS, Mix(search=1, lookup=0, install=0), seed=4)
    limits = Counter(
        parse_qs(urlsplit(planner.next().path).query).get("limit", ["default"])[0]
        for _ in range(2000)
    )
    assert set(limits) == {"default", "10", "50", "100"}
    assert limits["default"] > 1000


def test_search_path_encodes_the_query():
    assert (
        search_path("semantic web & more", 5)
        == "/api/v1/search?q=semantic%20web%20%26%20more&limit=5"
    )


@pytest.mark.parametrize(
    "bad",
    [
        {"search": -1},
        {"search": 0, "lookup": 0, "install": 0},
        {"zero_result_share": 1.5},
        {"zipf_exponent": 0},
    ],
)
def test_bad_mixes_are_refused(bad):
    with pytest.raises(ValueError):
        Mix(**bad)


# --- the vocabulary comes from the catalog the service serves ------------------------------


def test_vocabulary_ranks_ids_by_downloads_and_terms_by_reach():
    records = generate(300, seed=42)
    words = vocabulary.from_packages(records)
    assert words.package_ids[0] == max(records, key=lambda r: r.downloads).id
    assert set(words.package_ids) == {r.id for r in records}
    assert {k for r in records for k in r.keywords} <= set(words.queries)
    # a keyword shared by many packages outranks any single package name
    assert words.queries[0] in {k for r in records for k in r.keywords}


def test_vocabulary_from_a_graph_equals_the_one_from_records():
    records = generate(200, seed=7)
    assert vocabulary.from_graph(add_to_graph(records)) == vocabulary.from_packages(records)


def test_vocabulary_follows_the_service_settings():
    words, source = vocabulary.from_environment({"MARKETPLACE_CATALOG_SIZE": "150"})
    assert len(words.package_ids) == 150 and "150" in source
    assert words == vocabulary.from_packages(generate(150, seed=42))
    other, _ = vocabulary.from_environment(
        {
            "MARKETPLACE_CATALOG_SIZE": "150",
            "MARKETPLACE_CATALOG_SEED": "7",
            "MARKETPLACE_PORT": "x",
        }
    )
    assert other == vocabulary.from_packages(generate(150, seed=7))


def test_vocabulary_of_the_shipped_catalog():
    words, source = vocabulary.from_environment({})
    assert source.endswith(".ttl") and len(words.package_ids) >= 100
    assert "urllib3" in words.package_ids[:10]  # the most downloaded come first
    assert "http" in words.queries[:20]


def test_vocabulary_reads_a_turtle_file(tmp_path):
    from marketplace.catalog.generate import write_turtle

    records = generate(40, seed=1)
    path = tmp_path / "catalog.ttl"
    with path.open("w", encoding="utf-8") as fh:
        write_turtle(records, fh)
    words, source = vocabulary.from_environment({"MARKETPLACE_CATALOG": str(path)})
    assert words == vocabulary.from_packages(records) and source == str(path)
