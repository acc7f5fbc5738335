"""The benchmark: v2, v1 and a bare Flask app at 10,000 packages, one production process each.

Run by `make bench`, as `python -m ops.bench`; writes bench-results.json (docs/benchmark.md).
"""
