"""Spans encoded as they end make the same OTLP request the SDK's encoder makes of the spans."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    SpanContext,
    SpanKind,
    StatusCode,
    TraceFlags,
    set_span_in_context,
)

from goldenpath_chassis._core.otlp import OtlpEncoders
from goldenpath_chassis._core.span_encoding import EncodeOnEnd, EndedSpan
from goldenpath_chassis._core.span_resource import hashed_once

SCHEMA_URL = "https://opentelemetry.io/schemas/1.44.0"


def a_resource(name: str) -> Resource:
    return hashed_once(Resource.create({"service.name": name, "service.version": "1.2.3"}))


def spans_of(processor: SpanProcessor, resource: Resource, count: int) -> None:
    """Spans of every shape the service makes and more: two scopes (one with a schema and
    attributes), a remote parent, events, links, an error status, every attribute type."""
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(processor)
    server = provider.get_tracer("goldenpath_chassis._core.tracing", schema_url=SCHEMA_URL)
    jobs = provider.get_tracer("jobs", "0.5.0", attributes={"kind": "worker"})
    remote = SpanContext(0xABC, 0xDEF, is_remote=True, trace_flags=TraceFlags(1))
    for number in range(count):
        parent = set_span_in_context(NonRecordingSpan(remote)) if number % 3 == 0 else None
        span = server.start_span(
            "GET",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"url.path": f"/v1/items/{number}", "url.scheme": "https"},
        )
        span.set_attribute("http.response.status_code", 200 + number % 2)
        span.set_attribute("ratio", number / 7)
        span.set_attribute("retried", number % 2 == 0)
        span.set_attribute("tags", ["a", "b"])
        span.add_event("cache.miss", {"key": f"items:{number}"})
        if number % 5 == 0:
            span.set_status(StatusCode.ERROR, "boom")
        span.end()
        with jobs.start_as_current_span(
            "process export", kind=SpanKind.CONSUMER, links=[Link(remote, {"why": "enqueued"})]
        ):
            pass


def framed_request(spans: Sequence[ReadableSpan], *, encode_on_end: bool) -> bytes:
    encoders = OtlpEncoders()
    ended = [EndedSpan(span, encoders.span(span) if encode_on_end else None) for span in spans]
    return encoders.request(ended)


def finished_spans(count: int, *resources: Resource) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    for resource in resources:
        spans_of(SimpleSpanProcessor(exporter), resource, count)
    return list(exporter.get_finished_spans())


@pytest.mark.parametrize("encode_on_end", [True, False], ids=["encoded", "not yet encoded"])
def test_the_framed_request_is_the_sdk_encoders_request(encode_on_end: bool) -> None:
    # Two resources (two providers), two scopes each, and enough spans that every length
    # needs more than one byte of varint.
    spans = finished_spans(300, a_resource("orders"), a_resource("billing"))
    framed = framed_request(spans, encode_on_end=encode_on_end)
    decoded = ExportTraceServiceRequest.FromString(framed)
    assert decoded == encode_spans(spans)
    assert len(decoded.resource_spans) == 2
    assert [len(scope.spans) for scope in decoded.resource_spans[0].scope_spans] == [300, 300]


def test_spans_encoded_and_not_yet_encoded_go_in_one_request() -> None:
    spans = finished_spans(4, a_resource("orders"))
    encoders = OtlpEncoders()
    ended = [
        EndedSpan(span, encoders.span(span) if number % 2 else None)
        for number, span in enumerate(spans)
    ]
    framed = encoders.request(ended)
    assert ExportTraceServiceRequest.FromString(framed) == encode_spans(spans)


class Recording(SpanExporter):
    def __init__(self) -> None:
        self.batches: list[list[EndedSpan]] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.batches.append(list(spans))  # type: ignore[arg-type]
        return SpanExportResult.SUCCESS


def test_a_span_is_encoded_by_the_thread_that_ends_it_once_the_encoder_is_loaded() -> None:
    encoded_on: list[str] = []

    def encoder(span: ReadableSpan) -> bytes:
        encoded_on.append(threading.current_thread().name)
        return b"\x12\x00"

    loaded: list[object] = []
    exporter = Recording()
    processor = EncodeOnEnd(exporter, lambda: encoder if loaded else None)
    spans_of(processor, a_resource("orders"), 1)  # before the first export: not encoded
    loaded.append(True)
    spans_of(processor, a_resource("orders"), 1)
    assert processor.force_flush()
    ended = [span for batch in exporter.batches for span in batch]
    assert [span.encoded is not None for span in ended] == [False, False, True, True]
    assert [span.span is None for span in ended] == [False, False, True, True]
    assert encoded_on == [threading.current_thread().name] * 2
    processor.shutdown()


def test_spans_not_sampled_are_neither_encoded_nor_queued() -> None:
    encoded: list[ReadableSpan] = []

    def encoder(span: ReadableSpan) -> bytes:
        encoded.append(span)
        return b""

    exporter = Recording()
    processor = EncodeOnEnd(exporter, lambda: encoder)
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(processor)
    provider.get_tracer("test").start_span("GET").end()
    assert processor.force_flush()
    assert encoded == []
    assert exporter.batches == []
    processor.shutdown()


def test_a_span_the_encoder_fails_on_is_sent_as_itself_not_raised_into_the_request() -> None:
    def failing(span: ReadableSpan) -> bytes:
        raise ValueError(span.name)

    exporter = Recording()
    processor = EncodeOnEnd(exporter, lambda: failing)
    spans_of(processor, a_resource("orders"), 1)  # ending the spans raises nothing
    assert processor.force_flush()
    ended = [span for batch in exporter.batches for span in batch]
    assert [(span.encoded, span.span is not None) for span in ended] == [(None, True)] * 2
    processor.shutdown()
