"""The weekly SLO review: compliance, error budget and burn rate, cache hit rate, slow searches.

Run by `make slo-report SLO_ARGS="..."`, as `python -m ops.slo`. `report` computes from
Prometheus, `sources` reads the other sections, `render` draws what they return (`model` holds
the data classes both sides share).
"""
