"""The OTLP/HTTP span exporter, built by its first export rather than at start-up (OBS-2).

Building `OTLPSpanExporter` loads requests, urllib3 and protobuf: about 0.1 s of CPU that
start-up would otherwise spend before `/health/ready` answers. Deferred, the batch processor's
worker thread pays it on the first export, off the request path. Headers, compression and
certificates still come from `OTEL_EXPORTER_OTLP_*`, read when it is built; the timeout is the
chassis's setting of the same name, validated at start-up. Imported only when tracing is on
(`core/tracing.py`).

It exports spans already encoded where they ended (`span_encoding.py`): it frames them into one
request and sends it with the SDK exporter's own HTTP client, which compresses, retries and
backs off as the SDK's `export` does: a refused connection, a timeout, 429, 502, 503 and 504 are
retried after 1, 2, 4 s ... (or the collector's `Retry-After`), all within one deadline,
`OTEL_EXPORTER_OTLP_(TRACES_)TIMEOUT` (10 s), which also bounds each attempt. That client is
the one private part of the SDK the chassis uses (`OTLPSpanExporter.export` takes spans, never
bytes); the chassis's tests send through it to a real receiver, so an SDK upgrade that moves it
fails them. What the SDK's `export` adds around that client and this does not: the exporter's
own metrics (off unless `OTEL_PYTHON_SDK_INTERNAL_METRICS_ENABLED`) and a 64 MiB cap on a
request (a batch of 512 spans is tens of kilobytes).
"""

# The deferred imports this module exists for (see above).
# ruff: noqa: PLC0415

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from .logging import get_logger
from .span_encoding import SpanEncoder, otlp_request
from .throttled_count import ThrottledCount
from .url_redaction import redacted_url

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope

    from .span_encoding import EndedSpan

_log = get_logger(__name__)

# The SDK client logs a line for each retry and each failure, with the transport error's text;
# `span_export_failed` replaces them.
_SDK_EXPORTER_LOGGER = "opentelemetry.exporter.otlp.proto.http.trace_exporter"
_FAILURES_SAID_EVERY_SECONDS = 60.0


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
    """Sends the batch processor's batches; says when the collector does not take them.

    A failed export (the collector refused the connection, did not answer within the timeout,
    or answered an error after the SDK client's retries) is a `span_export_failed` warning,
    at most once a minute with the number of batches failed since the last: the endpoint
    redacted, the HTTP status or the error's type, never the error's text (it holds the URL's
    path and query) nor a span. The SDK client's own lines (one a retry) are silenced.
    """

    def __init__(self, endpoint: str, *, timeout_seconds: float) -> None:
        self.endpoint = endpoint
        self._timeout = timeout_seconds
        # The SDK's OTLPSpanExporter (typed loosely for its private client) and the encoders,
        # built together on the first export: spans are encoded with the exporter's encoder.
        self._built: tuple[Any, OtlpEncoders] | None = None
        self._lock = threading.Lock()
        self._stopped = False
        self._failures = ThrottledCount(_FAILURES_SAID_EVERY_SECONDS)
        self._failing = False
        self._last_reason = ""
        logging.getLogger(_SDK_EXPORTER_LOGGER).setLevel(logging.CRITICAL)

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

                exporter = OTLPSpanExporter(endpoint=self.endpoint, timeout=self._timeout)
                self._built = exporter, OtlpEncoders()
            return self._built

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._stopped:
            return SpanExportResult.FAILURE
        exporter, encoders = self._build()
        try:
            # The batch processor queued what EncodeOnEnd gave it (span_encoding.py).
            payload = encoders.request(cast("Sequence[EndedSpan]", spans))
        except Exception:
            _log.exception("span_batch_not_encoded", spans=len(spans))
            return SpanExportResult.FAILURE
        try:
            result = exporter._client.export(payload)  # private (see the module docstring)
        except Exception as error:  # the client catches the transport's; anything else is a bug
            return self._failed(type(error).__name__, len(spans))
        if not result.success:
            return self._failed(_reason(result.status_code, result.error), len(spans))
        if self._failing:
            self._failing = False
            _log.info("span_export_resumed", endpoint=redacted_url(self.endpoint))
        return SpanExportResult.SUCCESS

    def _failed(self, reason: str, spans: int) -> SpanExportResult:
        self._failing = True
        self._last_reason = reason
        batches = self._failures.add()
        if batches:
            self._say_failed(batches, reason, spans=spans)
        return SpanExportResult.FAILURE

    def _say_failed(self, batches: int, reason: str, **fields: object) -> None:
        _log.warning(
            "span_export_failed",
            endpoint=redacted_url(self.endpoint),
            reason=reason,
            batches=batches,
            timeout_seconds=self._timeout,
            **fields,
        )

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        # Nothing is buffered here: the batch processor flushes through `export`.
        return True

    def shutdown(self) -> None:
        """Stop the SDK client (a back-off it waits in ends); called once the final flush is
        over or cut short, and again by the batch processor if it ends later."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
            if self._built is not None:
                self._built[0].shutdown()
        batches = self._failures.rest()
        if batches:
            self._say_failed(batches, self._last_reason)


def _reason(status: int | None, error: Exception | None) -> str:
    """Why an export failed, without the error's text: `HTTP 503`, `ConnectionError`."""
    if status is not None:
        return f"HTTP {status}"
    if error is not None:
        return type(error).__name__
    return "stopped at shutdown"  # the client gave up a back-off because it was shut down
