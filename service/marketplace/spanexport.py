"""OTLP/gRPC export that lets request threads in while it encodes (MARKETPLACE_OTLP_ENCODE_CHUNK).

The exporter encodes a batch to protobuf in Python, in the process that serves, on the batch
processor's thread, ~40 µs a span, holding the interpreter. A request thread waiting for it gets
it back only when the holder lets go or after `sys.getswitchinterval()` (5 ms): a batch of 128
spans is a 5 ms stall for whichever request arrives during it, which is the one-connection p99.
`ChunkedGrpcSpanExporter` encodes N spans at a time with the library's own encoder and lets go of
the interpreter between chunks, then sends the same single request.

It pauses only while the batch processor keeps up. A batch that starts at once after the last one
ended means the queue already held another full batch: requests are making spans faster than
they are exported, each pause hands the interpreter to the threads filling the queue, and the
queue overflows. At 16 connections, pausing every 4 spans left the export a second behind at the
end of a 5-second load, and in two of six runs spans were dropped. Such batches are encoded
whole. gRPC only: the HTTP exporter has no seam for its encoding. Imported only when the setting
asks for it (the gRPC stack costs start-up time).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

# The per-span step of the public `encode_spans`; private to the package, so a release that
# renames it fails here at start-up, and tests/unit/test_span_export.py compares the two.
from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import _encode_span
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export import SpanExportResult

# A gap this short between one export's end and the next one's start means the processor took
# the next batch from a queue that already held it; when it keeps up, a batch waits for a full
# batch of new spans (tens of ms at compose's OTEL_BSP_* settings) or for the schedule delay.
BEHIND_SECONDS = 0.002


class ChunkedGrpcSpanExporter(OTLPSpanExporter):
    """The OTLP/gRPC exporter, its batch encoded `chunk` spans at a time into the request the
    library would have built: one ResourceSpans per resource, one ScopeSpans per scope, spans in
    their order."""

    def __init__(self, chunk: int, **kwargs):
        super().__init__(**kwargs)
        self.chunk = chunk
        self.pausing = True
        self._ended = float("-inf")

    def export(self, spans: Sequence) -> SpanExportResult:
        # only the processor's worker exports (force_flush and shutdown under its export lock)
        self.pausing = time.monotonic() - self._ended > BEHIND_SECONDS
        try:
            return super().export(spans)
        finally:
            self._ended = time.monotonic()

    def _translate_data(self, data: Sequence) -> ExportTraceServiceRequest:
        grouped: dict = {}  # resource -> scope -> spans; the resource hashes once (hash_once)
        for span in data:
            scopes = grouped.setdefault(span.resource, {})
            scopes.setdefault(span.instrumentation_scope, []).append(span)
        request = ExportTraceServiceRequest()
        since_pause = 0
        for scopes in grouped.values():
            resource_spans = None
            for spans in scopes.values():
                encoded = None
                for span in spans:
                    if since_pause == self.chunk and self.pausing:
                        time.sleep(0)  # lets a waiting request thread take the interpreter
                        since_pause = 0
                    since_pause += 1
                    if encoded is not None:
                        encoded.spans.append(_encode_span(span))
                        continue
                    # the scope's first span, in the envelope the public encoder writes
                    (envelope,) = encode_spans([span]).resource_spans
                    if resource_spans is None:
                        resource_spans = request.resource_spans.add(resource=envelope.resource)
                        resource_spans.schema_url = envelope.schema_url
                    (scope,) = envelope.scope_spans
                    encoded = resource_spans.scope_spans.add(scope=scope.scope, spans=scope.spans)
                    encoded.schema_url = scope.schema_url
        return request
