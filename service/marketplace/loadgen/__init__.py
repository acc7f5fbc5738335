"""Traffic for the marketplace: a realistic, seeded mix of searches, lookups and installs.

    python -m marketplace.loadgen --target http://127.0.0.1:8001 --target http://127.0.0.1:8002 \\
        --rate 20 [--duration 60 | --count 1000] [--seed 7]

`mix` decides what to ask (Zipf-distributed terms, a few zero-result searches and unknown ids),
`pacing` decides when, `runner` sends it to every target and prints one progress line at a
time, `vocabulary` learns the catalog's ids and terms from the service's own settings.
"""

from marketplace.loadgen.mix import Mix, PlannedRequest, Planner, Vocabulary, Zipf
from marketplace.loadgen.pacing import Clock, Pacer
from marketplace.loadgen.runner import Runner, Target, TargetStats

__all__ = [
    "Clock",
    "Mix",
    "Pacer",
    "PlannedRequest",
    "Planner",
    "Runner",
    "Target",
    "TargetStats",
    "Vocabulary",
    "Zipf",
]
