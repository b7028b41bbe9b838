"""Spans encoded to OTLP as they end; the exporter's thread only frames and sends them (OBS-2).

The SDK's batch processor hands the exporter's thread a batch of spans, which it encodes to
protobuf in Python, holding the GIL for the whole batch. On a busy process that is a burst of
tens of milliseconds every fraction of a second, and during it the event loop waits for the
GIL after each socket call (the convoy effect): the requests that arrive meanwhile make the
traced tail. Here each span is encoded by the thread that ends it, a few dozen microseconds
inside its own request, and the batch processor (the SDK's, with its queue, limits, schedule
and flush) carries the encoded bytes instead of the span. The exporter's thread joins them.

Protobuf's wire format lets a repeated field be written as its elements' encodings one after
another, so a batch is the spans' bytes under their scope's and resource's headers, each
header encoded once by the OTLP encoder itself; `otlp_request` frames them. Until the
encoder is loaded (the exporter's first export loads it, off the start-up path: otlp.py), a
span travels as itself and is encoded on the exporter's thread, as before. Either way, an
exception it recorded is redacted first (`span_redaction.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from .logging import get_logger
from .span_redaction import exceptions_redacted
from .throttled_line import ThrottledLine

if TYPE_CHECKING:
    from opentelemetry.context import Context
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import SpanContext

# A span's encoding as a `ScopeSpans` holding only that span: its `spans` field, framed.
type SpanEncoder = Callable[[ReadableSpan], bytes]

# Field numbers of the OTLP messages a request is framed from (opentelemetry-proto).
_REQUEST_RESOURCE_SPANS = 1
_RESOURCE_SPANS_SCOPE_SPANS = 2
_LENGTH_DELIMITED = 2
# The SDK's default for the batch processor's export timeout, which it does not use.
_SDK_EXPORT_TIMEOUT_MILLIS = 30_000

_log = get_logger(__name__)


class EndedSpan:
    """What the batch processor queues for a span: its bytes, or the span until they can be made."""

    __slots__ = ("context", "encoded", "resource", "scope", "span")

    def __init__(self, span: ReadableSpan, encoded: bytes | None) -> None:
        # The batch processor reads `context` (is it sampled?); the exporter reads the rest.
        self.context: SpanContext | None = span.context
        self.resource: Resource = span.resource
        self.scope: InstrumentationScope | None = span.instrumentation_scope
        self.encoded = encoded
        self.span = None if encoded is not None else span


class EncodeOnEnd(SpanProcessor):
    """The SDK's batch processor, fed each span's OTLP bytes instead of the span.

    Its queue holds at most `max_queue_size` spans: a span that ends while it is full (the
    collector down or slow) is dropped here, before it is encoded, and counted in a
    `spans_dropped` line at most once a minute; the SDK would log a line for each. Shutdown
    flushes for at most `flush_seconds` (the SDK waits 30 s, a whole Kubernetes grace period,
    while an export hangs): then what is left is dropped, said in `trace_flush_cut_short`, and
    the exporter stops (its thread is a daemon: the process does not wait for it).
    """

    def __init__(
        self,
        exporter: SpanExporter,
        encoder: Callable[[], SpanEncoder | None],
        *,
        max_queue_size: int = 2048,
        max_export_batch_size: int = 512,
        schedule_delay_millis: int = 5000,
        flush_seconds: float = 5.0,
    ) -> None:
        self._handover = _Handover(exporter, self._taken)
        self._batches = BatchSpanProcessor(
            self._handover,
            max_queue_size=max_queue_size,
            max_export_batch_size=max_export_batch_size,
            schedule_delay_millis=schedule_delay_millis,
            # Unused by the SDK; given, so that it never parses OTEL_BSP_EXPORT_TIMEOUT itself
            # (a value it cannot parse was a traceback in the log): the settings read it.
            export_timeout_millis=_SDK_EXPORT_TIMEOUT_MILLIS,
        )
        self._encoder = encoder  # None until the exporter has loaded the OTLP encoder
        self._max_queued = max_queue_size
        self._flush_seconds = flush_seconds
        self._lock = threading.Lock()
        # Spans given to the batch processor and not yet handed to the exporter: what its queue
        # holds, and at times a batch it has just taken out of it.
        self._queued = 0
        self._drops = ThrottledLine(
            _log, "spans_dropped", count_name="spans", max_queue_size=max_queue_size
        )
        self._closed = False

    @property
    def encoding(self) -> bool:
        """Whether spans are encoded where they end yet (from the first export on)."""
        return self._encoder() is not None

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        pass

    def on_end(self, span: ReadableSpan) -> None:
        if not (span.context and span.context.trace_flags.sampled) or self._closed:
            return  # what the batch processor would do, without encoding first
        if not self._admitted():
            return
        span = exceptions_redacted(span)  # before either thread encodes it
        encoder = self._encoder()
        encoded = None
        if encoder is not None:
            try:
                encoded = encoder(span)
            except Exception:  # on_end must not raise into the span.end() of a request
                encoded = None  # sent as itself: the exporter's thread encodes it, or says why not
        ended = EndedSpan(span, encoded)
        # The batch processor only reads `context`; its exporter is ours and takes EndedSpans.
        self._batches.on_end(cast("ReadableSpan", ended))

    def _admitted(self) -> bool:
        with self._lock:
            if self._queued < self._max_queued:
                self._queued += 1
                return True
        self._drops.add()
        return False

    def _taken(self, count: int) -> None:
        with self._lock:
            self._queued -= count

    def shutdown(self) -> None:
        self._closed = True
        # The batch processor's shutdown exports what it holds and waits for it up to 30 s;
        # here it runs on a daemon thread, waited for `flush_seconds` only.
        flush = threading.Thread(target=self._batches.shutdown, name="SpanFlush", daemon=True)
        flush.start()
        flush.join(self._flush_seconds)
        if flush.is_alive():
            self._handover.cut_short()
            with self._lock:
                left = self._queued
            _log.warning(
                "trace_flush_cut_short", queued_spans=left, flush_seconds=self._flush_seconds
            )
        self._drops.say_rest()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._batches.force_flush(timeout_millis)


class _Handover(SpanExporter):
    """Between the batch processor and the exporter: tells `EncodeOnEnd` which spans left the
    queue, and sends nothing more once the final flush is cut short."""

    def __init__(self, exporter: SpanExporter, taken: Callable[[int], None]) -> None:
        self._exporter = exporter
        self._taken = taken
        self._cut = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self._taken(len(spans))
        if self._cut:
            return SpanExportResult.FAILURE  # counted in `trace_flush_cut_short`
        return self._exporter.export(spans)

    def cut_short(self) -> None:
        self._cut = True
        self.shutdown()  # ends a back-off the exporter waits in

    def shutdown(self) -> None:
        self._exporter.shutdown()  # also called by the batch processor's shutdown, if it ends

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self._exporter.force_flush(timeout_millis)


def otlp_request(
    spans: Sequence[EndedSpan],
    encode: SpanEncoder,
    resource_header: Callable[[Resource], bytes],
    scope_header: Callable[[InstrumentationScope | None], bytes],
) -> bytes:
    """An `ExportTraceServiceRequest`'s bytes: the spans grouped by resource, then by scope,
    as the OTLP encoder groups them; a span not yet encoded is encoded here."""
    groups: dict[Resource, dict[InstrumentationScope | None, list[bytes]]] = {}
    for ended in spans:
        encoded = ended.encoded
        if encoded is None:
            encoded = encode(cast("ReadableSpan", ended.span))
        groups.setdefault(ended.resource, {}).setdefault(ended.scope, []).append(encoded)
    return b"".join(
        _field(
            _REQUEST_RESOURCE_SPANS,
            resource_header(resource)
            + b"".join(
                _field(_RESOURCE_SPANS_SCOPE_SPANS, scope_header(scope) + b"".join(encodings))
                for scope, encodings in scopes.items()
            ),
        )
        for resource, scopes in groups.items()
    )


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field in protobuf's wire format: its key, its length, its bytes."""
    return _varint(number << 3 | _LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    """Protobuf's base-128 varint: seven bits a byte, least significant first."""
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)
