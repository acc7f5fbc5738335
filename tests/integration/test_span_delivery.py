"""The chunked gRPC encoding delivers over a real gRPC connection: every span, in one request
a batch (marketplace/spanexport.py; the unit tests compare the request with the library's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from marketplace.spanexport import ChunkedGrpcSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from ops.bench.server import free_port
from ops.bench.sink import Sink

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def test_a_batch_encoded_in_chunks_reaches_a_grpc_receiver_whole_in_one_request():
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "marketplace"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("marketplace")
    for number in range(37):
        tracer.start_span(f"span {number}").end()
    with Sink("grpc", free_port(), REPO) as sink:
        exporter = ChunkedGrpcSpanExporter(4, endpoint=sink.endpoint, insecure=True, timeout=10)
        try:
            assert exporter.export(memory.get_finished_spans()) is SpanExportResult.SUCCESS
        finally:
            exporter.shutdown()
    assert sink.counts == {"requests": 1, "spans": 37}
