"""The load generator's runner and command: runs over WSGI, against the service, figures."""

from __future__ import annotations

import io
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

import pytest
import requests
from marketplace.loadgen import vocabulary
from marketplace.loadgen.__main__ import build_parser, main
from marketplace.loadgen.mix import Mix, Planner
from marketplace.loadgen.runner import Runner, Target, percentile, progress_line

from ops.bench.bare import create_app as create_bare_app
from tests.unit.loadgen.fakes import WORDS, FakeClock, WSGIAdapter, session_factory

pytestmark = pytest.mark.unit


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
    clock = FakeClock()
    stats = Runner(
        targets, Planner(WORDS, seed=2), rate=50, duration=0.6, out=io.StringIO(), clock=clock
    ).run(threading.Event())
    assert stats[0].queued == 30  # due at 0, 0.02, ..., 0.58; the one due at 0.6 is past the end
    assert stats[0].sent == stats[0].queued  # a timed end lets what was queued finish
    assert clock.time == pytest.approx(0.6)
    # it waited exactly between due times, never longer than one interval
    assert len(clock.waits) == 30 and max(clock.waits) == pytest.approx(0.02)


def test_progress_lines_come_every_progress_interval_of_run_time():
    targets, _ = bare_targets(["v2"])
    out = io.StringIO()
    Runner(
        targets,
        Planner(WORDS, seed=6),
        rate=10,
        duration=3.5,
        progress_every=1.0,
        out=out,
        clock=FakeClock(),
    ).run(threading.Event())
    lines = out.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == ["t=1s", "t=2s", "t=3s", "t=4s"]
    assert lines[-1].endswith("(done)") and "rate=" in lines[0]
    assert "sent=35" in lines[-1]  # 10/s for 3.5 s


def test_a_stop_event_ends_an_endless_run_promptly():
    targets, _ = bare_targets(["v2"])
    out = io.StringIO()
    clock = FakeClock(stop_at=0.3)
    stats = Runner(targets, Planner(WORDS, seed=3), rate=100, out=out, clock=clock).run(
        threading.Event()
    )
    assert out.getvalue().rstrip().endswith("(stopped)")
    assert stats[0].queued == 30  # due at 0, 0.01, ..., 0.29; stopped at 0.3
    assert clock.time == pytest.approx(0.3)


def test_a_slow_target_drops_its_overflow_and_the_fast_one_does_not():
    slow, _ = bare_targets(["slow"], delay=0.2, workers=1, queue_size=4)
    fast, _ = bare_targets(["fast"], workers=4)
    stats = Runner(
        slow + fast,
        Planner(WORDS, seed=4),
        rate=200,
        count=80,
        out=io.StringIO(),
        clock=FakeClock(),
    ).run(threading.Event())
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

    # A queue for all ten: how fast the one worker starts must not turn a failure into a drop.
    target = Target("http://down.test", make, workers=1, queue_size=10)
    (stats,) = Runner([target], Planner(WORDS, seed=5), rate=1000, count=10, out=io.StringIO()).run(
        threading.Event()
    )
    assert stats.failed == stats.unexpected == stats.sent == 10
    assert "failed=10" in progress_line(1.0, [target])


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
    words = vocabulary.from_turtle(Path(__file__).parents[1] / "data" / "catalog.ttl")
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
