"""The load generator's test doubles: a requests transport onto a Flask app (no sockets), a
clock that moves only when the runner waits, and a small vocabulary."""

from __future__ import annotations

import threading
import time
from urllib.parse import urlsplit

import requests
from marketplace.loadgen.mix import Vocabulary
from requests.structures import CaseInsensitiveDict

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


class FakeClock:
    """Time that moves only when the runner waits: as fast as the machine allows, and the same
    schedule on every machine. `stop_at` sets the stop event once that much time has passed."""

    def __init__(self, stop_at: float | None = None, max_reads: int = 100_000) -> None:
        self.time = 0.0
        self.stop_at = stop_at
        self.waits: list[float] = []
        self.reads_left = max_reads  # a runner that never waits would spin here forever

    def now(self) -> float:
        self.reads_left -= 1
        assert self.reads_left > 0, "the runner reads the clock without ever waiting"
        return self.time

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        self.waits.append(seconds)
        self.time += seconds
        if self.stop_at is not None and self.time >= self.stop_at:
            stop.set()
        return stop.is_set()
