"""OBS-2: OTEL_BSP_EXPORT_TIMEOUT, which the SDK in the lock reads and does not apply.

The chassis validates it and says at start-up that it is ignored (core/settings/groups.py,
core/tracing.py). The first test is the premise: when an SDK upgrade starts applying it, it
fails, and the note and the docs must change with it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

from goldenpath_chassis._core.span_encoding import EncodeOnEnd

pytestmark = pytest.mark.unit

EXPORT_SECONDS = 0.2


class SlowExporter(SpanExporter):
    """Takes `EXPORT_SECONDS` over each export, then keeps what it was given."""

    def __init__(self) -> None:
        self.exported: list[str] = []

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        time.sleep(EXPORT_SECONDS)
        self.exported.extend(span.name for span in spans)
        return SpanExportResult.SUCCESS


def test_obs2_the_sdk_reads_otel_bsp_export_timeout_and_does_not_apply_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_BSP_EXPORT_TIMEOUT", "1")  # one millisecond
    exporter = SlowExporter()
    processor = BatchSpanProcessor(exporter, schedule_delay_millis=600_000)
    provider = TracerProvider()
    provider.add_span_processor(processor)
    provider.get_tracer("test").start_span("slow").end()
    started = time.monotonic()
    try:
        # Neither cut short nor given up: the flush waits for the whole export.
        assert processor.force_flush()
        assert time.monotonic() - started >= EXPORT_SECONDS
        assert exporter.exported == ["slow"]
    finally:
        processor.shutdown()  # type: ignore[no-untyped-call]


def test_obs2_the_sdk_never_parses_otel_bsp_export_timeout_for_the_chassis(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # The settings take "2000.0" as 2000; the SDK's int() would not, and log its traceback.
    monkeypatch.setenv("OTEL_BSP_EXPORT_TIMEOUT", "2000.0")
    with caplog.at_level(logging.DEBUG, logger="opentelemetry"):
        processor = EncodeOnEnd(SlowExporter(), lambda: None)
        processor.shutdown()
    assert [record.getMessage() for record in caplog.records] == []
