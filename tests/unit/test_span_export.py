"""The export's lean forms: a resource hashed once, and a batch encoded a few spans at a time
into the very request the library builds (marketplace/spanexport.py, docs/service.md)."""

from __future__ import annotations

import opentelemetry.sdk.resources as sdk_resources
import pytest
from marketplace import spanexport, tracing
from marketplace.settings import Settings, SettingsError
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as Grpc
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as Http
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

ENDPOINT = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"}


def exporters(env: dict[str, str]) -> list:
    provider = tracing.build_tracer_provider(Settings.from_env(env), "1")
    try:
        return [p.span_exporter for p in provider._active_span_processor._span_processors]
    finally:
        provider.shutdown()


def test_the_providers_resource_equals_and_hashes_like_the_plain_one():
    resource = tracing.build_tracer_provider(Settings.from_env({}), "1.2.3").resource
    plain = Resource(resource.attributes, resource.schema_url)
    assert resource == plain
    assert hash(resource) == hash(plain)
    assert {plain: "found"}[resource] == "found"


def test_the_providers_resource_is_not_serialised_again_for_each_hash(monkeypatch):
    resource = tracing.build_tracer_provider(Settings.from_env({}), "1").resource
    expected = hash(resource)

    def no_json(*args, **kwargs):
        raise AssertionError("the resource was serialised to JSON again")

    monkeypatch.setattr(sdk_resources, "dumps", no_json)
    assert [hash(resource) for _ in range(3)] == [expected] * 3
    with pytest.raises(AssertionError, match="serialised"):
        hash(Resource(resource.attributes, resource.schema_url))


def finished_spans(count: int) -> tuple:
    """`count` spans of two instrumentation scopes, interleaved, over one resource."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "marketplace"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    server = provider.get_tracer("opentelemetry.instrumentation.wsgi", "0.66b1")
    service = provider.get_tracer("marketplace", "2.0.0")
    for number in range(count):
        tracer = server if number % 3 == 0 else service
        with tracer.start_as_current_span(f"span {number}", attributes={"n": number}):
            pass
    return memory.get_finished_spans()


@pytest.mark.parametrize("chunk", [1, 3, 4, 100])
def test_a_batch_encoded_in_chunks_is_the_request_the_library_builds(chunk):
    spans = finished_spans(10)
    exporter = spanexport.ChunkedGrpcSpanExporter(chunk, endpoint="http://127.0.0.1:9")
    try:
        assert exporter._translate_data(spans) == encode_spans(spans)
    finally:
        exporter.shutdown()


@pytest.mark.parametrize("chunk", [1, 4, 100])
def test_the_encoder_lets_go_of_the_interpreter_after_every_chunk_of_spans(monkeypatch, chunk):
    encoded, pauses = [], []
    real = spanexport._encode_span
    monkeypatch.setattr(spanexport, "_encode_span", lambda span: encoded.append(1) or real(span))
    monkeypatch.setattr(spanexport.time, "sleep", lambda seconds: pauses.append(len(encoded)))
    exporter = spanexport.ChunkedGrpcSpanExporter(chunk, endpoint="http://127.0.0.1:9")
    try:
        request = exporter._translate_data(finished_spans(10))
    finally:
        exporter.shutdown()
    assert sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans) == 10
    # 10 spans in two scopes: each scope's first span comes with its envelope, the rest one by one
    assert len(encoded) == 8
    assert len(pauses) == (10 - 1) // chunk
    stretches = [b - a for a, b in zip([0, *pauses], [*pauses, len(encoded)], strict=True)]
    assert max(stretches) <= chunk


def test_a_batch_that_follows_the_last_at_once_is_encoded_without_pauses(monkeypatch):
    """The processor is behind: pausing would only let the requests fill its queue faster."""
    import time

    wait = time.sleep
    pauses = []
    monkeypatch.setattr(spanexport.time, "sleep", lambda seconds: pauses.append(seconds))
    # the parent's export is the encoding and the send; encode only
    monkeypatch.setattr(Grpc, "export", lambda self, spans: self._translate_data(spans) and "sent")
    exporter = spanexport.ChunkedGrpcSpanExporter(2, endpoint="http://127.0.0.1:9")
    spans = finished_spans(10)
    counted = []
    try:
        for gap in (None, 0, 0, 10 * spanexport.BEHIND_SECONDS, 0):
            if gap:
                wait(gap)
            before = len(pauses)
            assert exporter.export(spans) == "sent"
            counted.append(len(pauses) - before)
    finally:
        exporter.shutdown()
    assert counted == [4, 0, 0, 4, 0]


def test_the_chunk_setting_picks_the_chunked_grpc_exporter():
    (chunked,) = exporters({**ENDPOINT, "MARKETPLACE_OTLP_ENCODE_CHUNK": "4"})
    assert isinstance(chunked, spanexport.ChunkedGrpcSpanExporter)
    assert isinstance(chunked, Grpc)
    assert chunked.chunk == 4
    assert [type(e) for e in exporters({**ENDPOINT, "MARKETPLACE_OTLP_ENCODE_CHUNK": "0"})] == [
        Grpc
    ]


def test_the_chunk_setting_is_refused_with_the_http_protocol_it_cannot_change():
    env = {
        **ENDPOINT,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "MARKETPLACE_OTLP_ENCODE_CHUNK": "4",
    }
    with pytest.raises(SettingsError, match=r"MARKETPLACE_OTLP_ENCODE_CHUNK.*grpc"):
        Settings.from_env(env)
    assert [type(e) for e in exporters({**env, "MARKETPLACE_OTLP_ENCODE_CHUNK": ""})] == [Http]


@pytest.mark.parametrize("value", ["-1", "four", "1.5"])
def test_a_chunk_that_is_not_a_count_stops_start_up(value):
    with pytest.raises(SettingsError, match="MARKETPLACE_OTLP_ENCODE_CHUNK"):
        Settings.from_env({"MARKETPLACE_OTLP_ENCODE_CHUNK": value})
