"""The OTLP/HTTP span exporter, built by its first export rather than at start-up (OBS-2).

Building `OTLPSpanExporter` loads requests, urllib3 and protobuf: about 0.1 s of CPU that
start-up would otherwise spend before `/health/ready` answers. Deferred, the batch processor's
worker thread pays it on the first export, off the request path. Headers, timeout, compression
and certificates still come from `OTEL_EXPORTER_OTLP_*`, read when it is built. Imported only
when tracing is on (`core/tracing.py`).

It exports spans already encoded where they ended (`span_encoding.py`): it frames them into one
request and sends it with the SDK exporter's own HTTP client, which compresses, retries and
backs off as the SDK's `export` does. That client is the one private part of the SDK the
chassis uses (`OTLPSpanExporter.export` takes spans, never bytes); the chassis's tests send
through it to a real receiver, so an SDK upgrade that moves it fails them. What the SDK's
`export` adds around that client and this does not: the exporter's own metrics (off unless
`OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED`) and a 64 MiB cap on a request (a batch of 512
spans is tens of kilobytes).
"""

# The deferred imports this module exists for (see above).
# ruff: noqa: PLC0415

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .logging import get_logger
from .span_encoding import SpanEncoder, otlp_request

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    from .span_encoding import EndedSpan

_log = get_logger(__name__)


class OtlpEncoders:
    """The OTLP encoder's pieces: a span, and the headers of its resource and its scope."""

    def __init__(self) -> None:
        from opentelemetry.exporter.otlp.proto.common._internal import (
            _encode_instrumentation_scope,
            _encode_resource,
        )
        from opentelemetry.exporter.otlp.proto.common._internal.trace_encoder import (
            _encode_span,
        )
        from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans

        def span(ended: ReadableSpan) -> bytes:
            encoded: bytes = ScopeSpans(spans=[_encode_span(ended)]).SerializeToString()
            return encoded

        # Few resources and scopes ever exist (one a provider, one a tracer), so each header
        # is encoded once.
        @lru_cache(maxsize=64)
        def resource_header(resource: Resource) -> bytes:
            header: bytes = ResourceSpans(
                resource=_encode_resource(resource), schema_url=resource.schema_url
            ).SerializeToString()
            return header

        @lru_cache(maxsize=64)
        def scope_header(scope: InstrumentationScope | None) -> bytes:
            header: bytes = ScopeSpans(
                scope=_encode_instrumentation_scope(scope),  # type: ignore[arg-type]
                schema_url=(scope.schema_url or "") if scope else "",
            ).SerializeToString()
            return header

        self.span: SpanEncoder = span
        self.resource_header = resource_header
        self.scope_header = scope_header

    def request(self, spans: Sequence[EndedSpan]) -> bytes:
        """An `ExportTraceServiceRequest` of `spans`, those not encoded yet encoded here."""
        return otlp_request(spans, self.span, self.resource_header, self.scope_header)


class DeferredOtlpExporter(SpanExporter):
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        # The SDK's OTLPSpanExporter (typed loosely for its private client) and the encoders,
        # built together on the first export: spans are encoded with the exporter's encoder.
        self._built: tuple[Any, OtlpEncoders] | None = None
        self._lock = threading.Lock()

    @property
    def span_encoder(self) -> SpanEncoder | None:
        """How a span is encoded where it ends; None until the first export has loaded it."""
        built = self._built
        return built[1].span if built is not None else None

    def _build(self) -> tuple[Any, OtlpEncoders]:
        with self._lock:
            if self._built is None:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )

                self._built = OTLPSpanExporter(endpoint=self.endpoint), OtlpEncoders()
            return self._built

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        exporter, encoders = self._build()
        try:
            # The batch processor queued what EncodeOnEnd gave it (span_encoding.py).
            payload = encoders.request(cast("Sequence[EndedSpan]", spans))
        except Exception:
            _log.exception("span_batch_not_encoded", spans=len(spans))
            return SpanExportResult.FAILURE
        result = exporter._client.export(payload)  # private (see the module docstring)
        return SpanExportResult.SUCCESS if result.success else SpanExportResult.FAILURE

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        # Nothing is buffered here: the batch processor flushes through `export`.
        return True

    def shutdown(self) -> None:
        with self._lock:
            if self._built is not None:
                self._built[0].shutdown()
