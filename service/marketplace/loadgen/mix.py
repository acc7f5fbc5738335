"""What the load generator asks for: a seeded, network-free plan of requests.

Real marketplace traffic is dominated by searches whose terms follow a Zipf law (a few terms
are asked for constantly, a long tail rarely), with lookups of the packages people find, the
odd mistyped term or stale package id, and a few installs. Everything here draws from one
`random.Random`, so a seed reproduces the exact sequence.
"""

from __future__ import annotations

import bisect
import random
import string
from dataclasses import dataclass
from itertools import accumulate
from urllib.parse import quote, urlencode

SEARCH_PATH = "/api/v1/search"
PACKAGE_PATH = "/api/v1/packages/{id}"
INSTALL_PATH = "/api/v1/packages/{id}/install"


@dataclass(frozen=True)
class Vocabulary:
    """Search terms and package ids, most popular first (rank 1 is the first element)."""

    queries: tuple[str, ...]
    package_ids: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.queries or not self.package_ids:
            raise ValueError("a vocabulary needs at least one query and one package id")


@dataclass(frozen=True)
class Mix:
    """Shares of each kind of request; the three kinds are normalised, the rest are fractions."""

    search: float = 0.80
    lookup: float = 0.16
    install: float = 0.04
    zero_result_share: float = 0.05  # of searches: a term no package has
    unknown_id_share: float = 0.05  # of lookups: an id no package has
    zipf_exponent: float = 1.1
    # (limit, weight); None leaves the service's default in place, as most clients do
    limits: tuple[tuple[int | None, float], ...] = ((None, 0.7), (10, 0.15), (50, 0.1), (100, 0.05))

    def __post_init__(self) -> None:
        kinds = (self.search, self.lookup, self.install)
        if min(kinds) < 0 or sum(kinds) <= 0:
            raise ValueError("request shares must be non-negative and not all zero")
        for share in (self.zero_result_share, self.unknown_id_share):
            if not 0 <= share <= 1:
                raise ValueError("zero_result_share and unknown_id_share must be within 0..1")
        if self.zipf_exponent <= 0:
            raise ValueError("zipf_exponent must be positive")


@dataclass(frozen=True)
class PlannedRequest:
    kind: str  # search | lookup | install
    method: str
    path: str  # path and query string, relative to a target's base URL
    expect_found: bool  # False when the plan deliberately asks for nothing (zero results, 404)


class Zipf:
    """Ranks 0..n-1 with P(k) proportional to 1/(k+1)^s, sampled by bisecting the CDF."""

    def __init__(self, n: int, exponent: float = 1.1) -> None:
        if n < 1:
            raise ValueError("Zipf needs at least one rank")
        self.n = n
        self.exponent = exponent
        self._cdf = list(accumulate(1.0 / (k**exponent) for k in range(1, n + 1)))

    def probability(self, rank: int) -> float:
        previous = self._cdf[rank - 1] if rank else 0.0
        return (self._cdf[rank] - previous) / self._cdf[-1]

    def sample(self, rng: random.Random) -> int:
        # min() guards the float edge where random() * total rounds up onto the last boundary
        return min(bisect.bisect_right(self._cdf, rng.random() * self._cdf[-1]), self.n - 1)


def search_path(query: str, limit: int | None = None) -> str:
    params: dict[str, str | int] = {"q": query}
    if limit is not None:
        params["limit"] = limit
    return f"{SEARCH_PATH}?{urlencode(params, quote_via=quote)}"


def package_path(package_id: str, install: bool = False) -> str:
    template = INSTALL_PATH if install else PACKAGE_PATH
    return template.format(id=quote(package_id, safe=""))


class Planner:
    """An endless, seeded sequence of `PlannedRequest`s over one vocabulary."""

    def __init__(self, vocabulary: Vocabulary, mix: Mix | None = None, seed: int | None = 0):
        self.vocabulary = vocabulary
        self.mix = mix or Mix()
        self.rng = random.Random(seed)  # noqa: S311 - a reproducible mix, not a secret
        self._query_rank = Zipf(len(vocabulary.queries), self.mix.zipf_exponent)
        self._id_rank = Zipf(len(vocabulary.package_ids), self.mix.zipf_exponent)
        self._kinds = ("search", "lookup", "install")
        self._kind_weights = (self.mix.search, self.mix.lookup, self.mix.install)
        self._limits = [limit for limit, _ in self.mix.limits]
        self._limit_weights = [weight for _, weight in self.mix.limits]

    def __iter__(self) -> Planner:
        return self

    def __next__(self) -> PlannedRequest:
        return self.next()

    def next(self) -> PlannedRequest:
        kind = self.rng.choices(self._kinds, self._kind_weights)[0]
        if kind == "search":
            return self._search()
        if kind == "lookup":
            return self._lookup()
        package_id = self.vocabulary.package_ids[self._id_rank.sample(self.rng)]
        return PlannedRequest("install", "POST", package_path(package_id, install=True), True)

    def _search(self) -> PlannedRequest:
        limit = self.rng.choices(self._limits, self._limit_weights)[0]
        if self.rng.random() < self.mix.zero_result_share:
            return PlannedRequest("search", "GET", search_path(self._nonsense(), limit), False)
        query = self.vocabulary.queries[self._query_rank.sample(self.rng)]
        return PlannedRequest("search", "GET", search_path(query, limit), True)

    def _lookup(self) -> PlannedRequest:
        if self.rng.random() < self.mix.unknown_id_share:
            return PlannedRequest("lookup", "GET", package_path(self._unknown_id()), False)
        package_id = self.vocabulary.package_ids[self._id_rank.sample(self.rng)]
        return PlannedRequest("lookup", "GET", package_path(package_id), True)

    def _nonsense(self) -> str:
        # letters the catalog's English-like words never string together: a term nothing matches
        return "qzx" + "".join(self.rng.choices(string.ascii_lowercase, k=6))

    def _unknown_id(self) -> str:
        return f"no-such-package-{self.rng.randrange(10**6):06d}"
