"""The tracer provider's resource is hashed once, and is otherwise the SDK's resource."""

from __future__ import annotations

import json
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk import resources
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from goldenpath_chassis._core.span_resource import hashed_once

ATTRIBUTES: dict[str, str | int] = {
    "service.name": "orders",
    "service.version": "1.2.3",
    "deployment.environment.name": "production",
    "process.pid": 4242,
}
SCHEMA_URL = "https://opentelemetry.io/schemas/1.44.0"


@pytest.fixture
def serialisations(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every JSON serialisation the SDK's resources module makes (its hash makes one each)."""
    made: list[object] = []

    def counting(value: object, **options: Any) -> str:
        made.append(value)
        return json.dumps(value, **options)

    monkeypatch.setattr(resources, "dumps", counting)
    return made


def spans_of(resource: Resource) -> list[ReadableSpan]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("test", schema_url=SCHEMA_URL)
    for number in range(3):
        span = tracer.start_span(
            "GET", kind=SpanKind.SERVER, attributes={"url.path": f"/v1/items/{number}"}
        )
        span.set_attribute("http.response.status_code", 200)
        span.end()
    return list(exporter.get_finished_spans())


def test_a_plain_resource_serialises_its_attributes_at_every_hash(
    serialisations: list[object],
) -> None:
    # What the chassis works around; if the SDK caches the hash one day, this fails and
    # span_resource.py can go.
    plain = Resource(ATTRIBUTES, SCHEMA_URL)
    for _ in range(3):
        hash(plain)
    assert len(serialisations) == 3


def test_the_resource_is_serialised_for_its_hash_once(serialisations: list[object]) -> None:
    resource = hashed_once(Resource(ATTRIBUTES, SCHEMA_URL))
    assert len({hash(resource) for _ in range(5)}) == 1
    assert len(serialisations) == 1


def test_it_equals_and_hashes_as_the_resource_it_was_made_from() -> None:
    plain = Resource(ATTRIBUTES, SCHEMA_URL)
    resource = hashed_once(plain)
    assert resource == plain
    assert plain == resource
    assert hash(resource) == hash(plain)
    assert dict(resource.attributes) == ATTRIBUTES
    assert resource.schema_url == SCHEMA_URL
    assert {plain: "found"}[resource] == "found"
    assert resource != hashed_once(Resource({**ATTRIBUTES, "service.version": "1.2.4"}))


def test_its_attributes_stay_immutable() -> None:
    resource = hashed_once(Resource(ATTRIBUTES))
    with pytest.raises(TypeError):
        resource.attributes["service.name"] = "other"  # type: ignore[index]
    assert resource.attributes["service.name"] == "orders"


def test_spans_encode_to_the_same_otlp_bytes_as_with_the_sdk_resource() -> None:
    plain = spans_of(Resource(ATTRIBUTES, SCHEMA_URL))
    hashed = spans_of(hashed_once(Resource(ATTRIBUTES, SCHEMA_URL)))

    def without_ids(spans: list[ReadableSpan]) -> bytes:
        request = encode_spans(spans)
        for resource_spans in request.resource_spans:
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    span.trace_id = span.span_id = b""
                    span.start_time_unix_nano = span.end_time_unix_nano = 0
        serialized: bytes = request.SerializeToString()
        return serialized

    assert len(encode_spans(hashed).resource_spans) == 1
    assert without_ids(hashed) == without_ids(plain)
