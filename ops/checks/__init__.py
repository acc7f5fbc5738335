"""The checklist commands: the deployment checklist as checks, and the alert-delivery drill.

Run by `make verify` (`python -m ops.checks verify`) and `make drill SEVERITY=...`
(`python -m ops.checks drill --severity ...`).
"""
