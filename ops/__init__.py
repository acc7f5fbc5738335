"""Operator tooling: the stack launchers, the benchmark and the checklist commands."""
