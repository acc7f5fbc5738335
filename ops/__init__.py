"""Operator tooling, one package per concern (make target -> package in ops/README.md).

- ops.stack: the stack launcher (compose or native);
- ops.bench: the benchmark;
- ops.checks: the deployment checklist and the alert drill;
- ops.slo: the weekly SLO review;
- ops.promapi: the Prometheus and Alertmanager HTTP client the commands share.
"""
