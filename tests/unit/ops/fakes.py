"""Addresses the ops commands' unit tests hand to code under test: never dialled (fake HTTP)."""

from ops.promapi import Endpoints

ENDPOINTS = Endpoints(
    prometheus="http://prometheus",
    alertmanager="http://alertmanager",
    alertsink="http://alertsink",
    grafana="http://grafana",
    loki="http://loki",
    otlp="http://otel-collector",
    otlp_explicit=False,
)
