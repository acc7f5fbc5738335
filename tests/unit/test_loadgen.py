"""The load generator without a network: mix, Zipf sampling, pacing, and runs over WSGI."""

from __future__ import annotations

import io
import itertools
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import requests
from marketplace.catalog.generate import add_to_graph, generate
from marketplace.loadgen import vocabulary
from marketplace.loadgen.__main__ import build_parser, main
from marketplace.loadgen.mix import Mix, Planner, Vocabulary, Zipf, search_path
from marketplace.loadgen.pacing import Pacer
from marketplace.loadgen.runner import Runner, Target, percentile, progress_line
from requests.structures import CaseInsensitiveDict

from ops.bench_bare import create_app as create_bare_app

pytestmark = pytest.mark.unit

WORDS = Vocabulary(
    queries=tuple(f"term{i}" for i in range(50)),
    package_ids=tuple(f"pkg{i}" for i in range(30)),
)


class WSGIAdapter(requests.adapters.BaseAdapter):
    """A requests transport that hands each request to a Flask test client: no sockets."""

    def __init__(self, app, delay: float = 0.0) -> None:
        super().__init__()
        self.app = app
        self.delay = delay
        self.seen: list[tuple[str, str]] = []
        self.lock = threading.Lock()

    def send(self, request, **kwargs):
        url = urlsplit(request.url)
        with self.lock:
            self.seen.append((request.method, url.path + ("?" + url.query if url.query else "")))
        if self.delay:
            time.sleep(self.delay)
        answer = self.app.test_client().open(
            url.path,
            method=request.method,
            query_string=url.query,
            data=request.body,
            headers=dict(request.headers),
        )
        response = requests.Response()
        response.status_code = answer.status_code
        response._content = answer.get_data()
        response.headers = CaseInsensitiveDict(answer.headers)
        response.url = request.url
        response.request = request
        return response

    def close(self) -> None:
        pass


def session_factory(adapter: WSGIAdapter, session_class=requests.Session):
    def make() -> requests.Session:
        session = session_class()
        session.mount("http://", adapter)
        return session

    return make


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


# --- pacing -------------------------------------------------------------------------------


def test_pacer_keeps_an_exact_grid():
    pacer = Pacer(rate=10, start=100.0)
    assert pacer.wait_time(100.0) == 0
    pacer.advance()
    assert pacer.wait_time(100.03) == pytest.approx(0.07)
    # a late iteration does not shift later due times: the grid stays anchored at the start
    assert pacer.wait_time(100.15) == 0
    pacer.advance()
    assert pacer.due() == pytest.approx(100.2)


def test_pacer_sends_at_most_a_bounded_burst_after_a_stall():
    pacer = Pacer(rate=100, start=0.0, max_burst=5)
    now = 10.0  # 1000 requests overdue
    burst = 0
    while pacer.wait_time(now) == 0 and burst < 1000:
        pacer.advance()
        burst += 1
    assert burst == 6  # the request due now plus at most max_burst overdue ones
    assert pacer.wait_time(now) == pytest.approx(0.01)


def test_pacer_rejects_a_zero_rate():
    with pytest.raises(ValueError):
        Pacer(rate=0, start=0)


def test_percentile_is_nearest_rank():
    samples = [float(i) for i in range(1, 101)]
    assert percentile(samples, 50) == 50
    assert percentile(samples, 99) == 99
    assert percentile([], 99) == 0


# --- runs over WSGI -----------------------------------------------------------------------


def bare_targets(names, delay=0.0, workers=2, queue_size=10_000):
    """Targets over the bare app; the default queue is large so that a busy test machine
    delays requests but never drops them."""
    adapters = {name: WSGIAdapter(create_bare_app({"BODY_BYTES": 300}), delay) for name in names}
    targets = [
        Target(
            f"http://{name}.test",
            session_factory(adapters[name]),
            workers=workers,
            queue_size=queue_size,
        )
        for name in names
    ]
    return targets, adapters


def test_a_counted_run_sends_the_same_requests_to_every_target():
    targets, adapters = bare_targets(["v1", "v2"], workers=4)
    out = io.StringIO()
    stats = Runner(
        targets, Planner(WORDS, seed=1), rate=300, count=60, progress_every=60, out=out
    ).run(threading.Event())
    expected = Planner(WORDS, seed=1)
    planned = sorted((p.method, p.path) for p in (expected.next() for _ in range(60)))
    for name in ("v1", "v2"):
        assert sorted(adapters[name].seen) == planned
    for s in stats:
        assert s.sent == 60
        # the bare app answers GETs and refuses installs (POST) with 405
        assert s.ok == sum(1 for m, _ in planned if m == "GET")
        assert s.client_errors == sum(1 for m, _ in planned if m == "POST")
        assert s.failed == s.dropped == s.server_errors == 0
    final = out.getvalue().strip().splitlines()[-1]
    assert final.startswith("loadgen t=") and final.endswith("(done)")
    assert "http://v1.test ok=" in final and "http://v2.test ok=" in final


def test_a_timed_run_holds_the_rate():
    targets, _ = bare_targets(["v2"])
    started = time.monotonic()
    stats = Runner(targets, Planner(WORDS, seed=2), rate=50, duration=0.6, out=io.StringIO()).run(
        threading.Event()
    )
    elapsed = time.monotonic() - started
    assert 0.55 <= elapsed < 10
    assert 25 <= stats[0].queued <= 32  # 50/s for 0.6 s, give or take the last tick
    assert stats[0].sent == stats[0].queued  # a timed end lets what was queued finish


def test_a_stop_event_ends_an_endless_run_promptly():
    targets, _ = bare_targets(["v2"])
    stop = threading.Event()
    timer = threading.Timer(0.3, stop.set)
    timer.start()
    started = time.monotonic()
    out = io.StringIO()
    try:
        stats = Runner(targets, Planner(WORDS, seed=3), rate=100, out=out).run(stop)
    finally:
        timer.cancel()
    assert time.monotonic() - started < 10
    assert out.getvalue().rstrip().endswith("(stopped)")
    assert 10 <= stats[0].queued <= 60


def test_a_slow_target_drops_its_overflow_and_the_fast_one_does_not():
    slow, _ = bare_targets(["slow"], delay=0.2, workers=1, queue_size=4)
    fast, _ = bare_targets(["fast"], workers=4)
    stats = Runner(slow + fast, Planner(WORDS, seed=4), rate=200, count=80, out=io.StringIO()).run(
        threading.Event()
    )
    slow_stats, fast_stats = stats
    assert slow_stats.dropped > 0
    assert slow_stats.dropped + slow_stats.queued == 80
    assert fast_stats.dropped == 0 and fast_stats.sent == 80


def test_unanswered_requests_count_as_failed():
    class Refusing(requests.adapters.BaseAdapter):
        def send(self, request, **kwargs):
            raise requests.ConnectionError("refused")

        def close(self):
            pass

    def make():
        session = requests.Session()
        session.mount("http://", Refusing())
        return session

    target = Target("http://down.test", make, workers=1)
    (stats,) = Runner([target], Planner(WORDS, seed=5), rate=1000, count=10, out=io.StringIO()).run(
        threading.Event()
    )
    assert stats.failed == stats.unexpected == stats.sent == 10
    assert "failed=10" in progress_line(1.0, [target])


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


# --- the command line ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["--target", "http://a", "--duration", "5", "--count", "3"],
        ["--target", "http://a", "--rate", "0"],
        ["--target", "http://a", "--count", "-1"],
    ],
)
def test_the_command_line_refuses_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)


def test_the_command_line_accepts_several_targets():
    args = build_parser().parse_args(
        ["--target", "http://a", "--target", "http://b", "--rate", "5", "--count", "9"]
    )
    assert args.target == ["http://a", "http://b"] and args.rate == 5 and args.count == 9


# --- the benchmark's pure parts (ops/bench*.py) -------------------------------------------


def test_the_bare_body_has_the_requested_size_and_is_json():
    import json

    from ops.bench_bare import make_body

    for size in (200, 1500, 4096):
        body = make_body(size)
        assert len(body) == size and json.loads(body)["results"] == []
    answer = create_bare_app({"BODY_BYTES": 900}).test_client().get("/api/v1/search?q=x")
    assert answer.status_code == 200 and len(answer.data) == 900


def test_the_wrk_script_rotates_over_every_path(tmp_path):
    from ops.bench_wrk import write_path_set

    paths = ["/api/v1/search?q=a%20b", '/odd"quote', "/api/v1/packages/x"]
    path_set = write_path_set("search", paths, tmp_path)
    lua = path_set.lua.read_text()
    assert '"/api/v1/search?q=a%20b"' in lua and '"/odd\\"quote"' in lua
    assert "function request()" in lua and "function done(" in lua
    assert path_set.plain.read_text().splitlines() == paths


def test_the_load_figures_are_read_from_the_json_line():
    from ops.bench_wrk import MARKER, parse_output

    line = (
        '{"requests":2000,"duration_us":10000000,"bytes":3000000,"connect_errors":0,'
        '"read_errors":1,"write_errors":0,"non_2xx":3,"timeouts":2,"p50_us":1500,'
        '"p90_us":2500,"p99_us":4800,"mean_us":1700.5,"max_us":9000}'
    )
    result = parse_output("Running 10s test\n" + MARKER + line + "\n")
    assert result.rps == 200 and result.p99_ms == 4.8 and result.p50_ms == 1.5
    assert result.non_2xx == 3 and result.socket_errors == 3
    assert result.bytes_per_response == 1500
    with pytest.raises(RuntimeError):
        parse_output("no figures here")


def test_the_table_marks_targets_met_and_missed():
    from ops.bench_table import build_table, render

    def run(rps, p99, lookup_p99=None):
        results = {"search_c16": {"rps": rps}, "search_c1": {"p50_ms": 1.0, "p99_ms": p99}}
        if lookup_p99 is not None:
            results["lookup_c1"] = {"p50_ms": 0.5, "p99_ms": lookup_p99}
        return {"results": results, "ready_seconds": 9.0, "memory": {"rss_mb": 320.0}}

    data = {
        "runs": {
            "v2": {**run(600, 4.0, 3.5), "search_cache_hit_ratio": 0.8},
            "v2_uninstrumented": run(900, 3.0, 2.0),
            "v1": run(60, 90.0),
            "bare": run(1000, 2.0),
        }
    }
    rows = {r.measure: r for r in build_table(data)}
    assert rows["v2 search p99, 1 connection"].passed is True
    assert rows["v2 lookup p99, 1 connection"].passed is False
    assert (
        rows["v2 search throughput / ceiling"].value == 60
        and rows["v2 search throughput / ceiling"].passed
    )
    assert rows["instrumentation cost (throughput lost)"].value == pytest.approx(33.33)
    assert rows["instrumentation cost (throughput lost)"].passed is False
    assert rows["v2 / v1 search throughput"].value == 10
    assert rows["v2 start-up to ready (/readyz)"].passed is True
    assert rows["v2 RSS at 10,000 packages (worker)"].passed is False
    text = render(list(rows.values()))
    assert text.count("PASS") == 3 and text.count("FAIL") == 3


# --- against the service itself (Flask test client, the unit tests' small catalog) ---------


class RecordingAdapter(WSGIAdapter):
    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        with self.lock:
            self.answers.append((request.method, request.path_url, response.status_code))
        return response

    answers: list


@pytest.mark.parametrize("variant", ["v1", "v2"])
def test_the_mix_against_the_service_gets_only_the_answers_it_asked_for(make_app, variant):
    app = make_app(variant=variant)
    adapter = RecordingAdapter(app)
    adapter.answers = []
    words = vocabulary.from_turtle(Path(__file__).parent / "data" / "catalog.ttl")
    mix = Mix(search=0.6, lookup=0.3, install=0.1, zero_result_share=0.2, unknown_id_share=0.2)
    (stats,) = Runner(
        [Target("http://svc.test", session_factory(adapter), workers=4, queue_size=1000)],
        Planner(words, mix, seed=8),
        rate=80,
        count=80,
        out=io.StringIO(),
    ).run(threading.Event())
    assert stats.sent == 80 and stats.server_errors == stats.failed == stats.dropped == 0
    kinds = Counter()
    for method, path, status in adapter.answers:
        if method == "POST":
            kinds["install"] += 1
            assert status in (200, 409), (path, status)  # the test catalog holds a cycle
        elif path.startswith("/api/v1/search"):
            kinds["search"] += 1
            assert status == 200, (path, status)
        else:
            kinds["lookup"] += 1
            known = unquote(path.rsplit("/", 1)[1]) in words.package_ids
            assert status == (200 if known else 404), (path, status)
    assert kinds["search"] and kinds["lookup"] and kinds["install"]
    zero = [p for m, p, _ in adapter.answers if "q=qzx" in p]
    assert zero, "the mix asked for no zero-result search"
    client = app.test_client()
    assert all(client.get(p).get_json()["count"] == 0 for p in zero[:5])


def test_the_command_runs_a_counted_mix_and_reports_it(monkeypatch, capsys):
    adapter = WSGIAdapter(create_bare_app({"BODY_BYTES": 200}))
    monkeypatch.setattr(requests, "Session", session_factory(adapter, requests.Session))
    argv = ["--target", "http://a.test", "--rate", "200", "--count", "12", "--seed", "3"]
    assert main([*argv, "--catalog-size", "60", "--wait-ready", "0"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("loadgen: ") and "60 ids" in lines[0] and "seed 3" in lines[0]
    assert lines[-1].endswith("(done)") and "sent=12" in lines[-1]
    assert len(adapter.seen) == 12
