"""The OTLP/HTTP span exporter, built by its first export rather than at start-up (OBS-2).

Building `OTLPSpanExporter` loads requests, urllib3 and protobuf: about 0.1 s of CPU that
start-up would otherwise spend before `/health/ready` answers. Deferred, the batch processor's
worker thread pays it on the first export, off the request path. Headers, timeout, compression
and certificates still come from `OTEL_EXPORTER_OTLP_*`, read when it is built. Imported only
when tracing is on (`core/tracing.py`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan


class DeferredOtlpExporter(SpanExporter):
    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self._exporter: SpanExporter | None = None
        self._lock = threading.Lock()

    @property
    def built(self) -> bool:
        return self._exporter is not None

    def _get(self) -> SpanExporter:
        with self._lock:
            if self._exporter is None:
                # The deferred import this class exists for (see the module docstring).
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # noqa: PLC0415
                    OTLPSpanExporter,
                )

                self._exporter = OTLPSpanExporter(endpoint=self.endpoint)
            return self._exporter

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self._get().export(spans)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        # Nothing is buffered here: the batch processor flushes through `export`.
        exporter = self._exporter
        return exporter.force_flush(timeout_millis) if exporter is not None else True

    def shutdown(self) -> None:
        with self._lock:
            if self._exporter is not None:
                self._exporter.shutdown()
