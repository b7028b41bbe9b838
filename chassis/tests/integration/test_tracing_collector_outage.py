"""OBS-2 when the collector misbehaves: down, hung or overloaded, it costs the service neither
its requests nor unbounded memory, and the failure is said in a few log lines.

Each test runs the app against a real OTLP receiver on loopback that holds its exports open or
answers 503 (`goldenpath_chassis.testing.otlp`), or against a port that refuses connections.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import pytest
from asgi_lifespan import LifespanManager
from structlog.testing import capture_logs

from goldenpath_chassis import ChassisSettings, Service, chassis_of
from goldenpath_chassis._core.span_encoding import EncodeOnEnd
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.otlp import (
    SPAN_KIND_SERVER,
    otlp_receiver,
    unreachable_collector,
)

pytestmark = pytest.mark.integration

COLLECTOR_PASSWORD = "pw-c011ec7a"
COLLECTOR_KEY = "ak-5e1f09d3"


def _with_credentials(endpoint: str) -> tuple[str, str]:
    """The traces URL of `endpoint` with a password and a key in it, and the same redacted."""
    host = endpoint.removeprefix("http://")
    return (
        f"http://collector:{COLLECTOR_PASSWORD}@{host}/v1/traces?api_key={COLLECTOR_KEY}",
        f"http://REDACTED:REDACTED@{host}/v1/traces?api_key=REDACTED",
    )


def _settings(service: Service, traced: dict[str, str], **changed: str) -> ChassisSettings:
    """The traced app's settings (whose receiver answers at once), `changed`."""
    return service.load_settings(**{**traced, **changed})


def _events(logs: Sequence[Mapping[str, Any]], event: str) -> list[Mapping[str, Any]]:
    return [line for line in logs if line["event"] == event]


async def test_obs2_requests_are_answered_while_the_collector_holds_every_export_open(
    service: Service,
    traced_overrides: dict[str, str],
    auth_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "20")
    with otlp_receiver(answer="hold") as receiver:
        settings = _settings(
            service,
            traced_overrides,
            otel_exporter_otlp_endpoint=receiver.endpoint,
            otel_exporter_otlp_timeout="60",
            shutdown_trace_flush_seconds="0.2",
        )
        app = service.create_app(settings)
        with capture_logs() as logs:
            async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
                assert (await client.get("/v1/widgets")).status_code == 200
                receiver.wait_until_held(1)
                for _ in range(20):
                    assert (await client.get("/v1/widgets")).status_code == 200
                # Every request was answered while the export stayed open, unanswered.
                assert receiver.held == 1
                assert receiver.received() == []
            # The lifespan ended: the final flush gave up on the collector instead of waiting
            # for it (the SDK waits 30 s).
            (cut,) = _events(logs, "trace_flush_cut_short")
            assert cut["flush_seconds"] == 0.2
            assert cut["queued_spans"] > 0


async def test_obs2_spans_beyond_the_queue_are_dropped_and_said_in_two_lines(
    service: Service, traced_overrides: dict[str, str]
) -> None:
    with otlp_receiver(answer="hold") as receiver:
        settings = _settings(
            service,
            traced_overrides,
            otel_exporter_otlp_endpoint=receiver.endpoint,
            otel_exporter_otlp_timeout="60",
            otel_bsp_max_queue_size="8",
            otel_bsp_max_export_batch_size="4",
            shutdown_trace_flush_seconds="0.2",
        )
        app = service.create_app(settings)
        with capture_logs() as logs:
            async with LifespanManager(app):
                tracer = chassis_of(app).instruments.tracing.tracer("test")
                for _ in range(4):  # a whole batch: the processor's thread exports it at once
                    tracer.start_span("first").end()
                receiver.wait_until_held(1)  # and is held there, the queue empty again
                for _ in range(20):
                    tracer.start_span("later").end()
    # Eight queued, twelve dropped: said at once, then the rest at shutdown, not once a span.
    dropped = _events(logs, "spans_dropped")
    assert [line["spans"] for line in dropped] == [1, 11]
    assert {line["max_queue_size"] for line in dropped} == {8}
    (cut,) = _events(logs, "trace_flush_cut_short")
    assert cut["queued_spans"] == 8


@contextmanager
def _failing_collector(kind: Literal["unavailable", "unreachable"]) -> Iterator[str]:
    if kind == "unavailable":
        with otlp_receiver(answer="unavailable") as receiver:
            yield receiver.endpoint
    else:
        with unreachable_collector() as endpoint:
            yield endpoint


@pytest.mark.parametrize(
    ("collector", "reason"), [("unavailable", "HTTP 503"), ("unreachable", "ConnectionError")]
)
async def test_obs2_a_failed_export_is_said_once_a_minute_redacted_and_the_sdk_says_nothing(
    service: Service,
    traced_overrides: dict[str, str],
    caplog: pytest.LogCaptureFixture,
    collector: Literal["unavailable", "unreachable"],
    reason: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    with _failing_collector(collector) as endpoint:
        traces_url, redacted = _with_credentials(endpoint)
        settings = _settings(
            service,
            traced_overrides,
            otel_exporter_otlp_traces_endpoint=traces_url,
            # Under the SDK client's first back-off (1 s): one attempt, then the export fails.
            otel_exporter_otlp_timeout="0.5",
        )
        app = service.create_app(settings)
        with capture_logs() as logs:
            async with LifespanManager(app):
                tracing = chassis_of(app).instruments.tracing
                export = tracing.span_export
                assert isinstance(export, EncodeOnEnd)
                tracer = tracing.tracer("test")
                for _ in range(3):
                    tracer.start_span(f"secret-{COLLECTOR_KEY}").end()
                    assert export.force_flush()  # the batch was tried, and failed
    failed = _events(logs, "span_export_failed")
    # The first failure at once, the two after it at shutdown: not a line an attempt.
    assert [line["batches"] for line in failed] == [1, 2]
    for line in failed:
        assert line["endpoint"] == redacted
        assert line["reason"] == reason
        assert line["log_level"] == "warning"
    assert failed[0]["spans"] == 1
    assert COLLECTOR_PASSWORD not in repr(logs)
    assert COLLECTOR_KEY not in repr(logs)  # neither the URL's nor the span's
    (enabled,) = _events(logs, "tracing_enabled")
    assert enabled["endpoint"] == redacted
    # The SDK client's own lines (one a retry, with the transport error's text) are silenced.
    assert [r.name for r in caplog.records if r.name.startswith("opentelemetry")] == []


async def test_obs2_an_export_that_succeeds_again_is_said_once(
    service: Service,
    traced_overrides: dict[str, str],
    auth_headers: dict[str, str],
) -> None:
    with otlp_receiver(answer="unavailable") as receiver:
        settings = _settings(
            service,
            traced_overrides,
            otel_exporter_otlp_endpoint=receiver.endpoint,
            otel_exporter_otlp_timeout="0.5",
        )
        app = service.create_app(settings)
        with capture_logs() as logs:
            async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
                export = chassis_of(app).instruments.tracing.span_export
                assert export is not None
                await client.get("/v1/widgets")
                assert export.force_flush()
                receiver.answer = "ok"  # the collector is back
                for _ in range(2):
                    await client.get("/v1/widgets")
                    assert export.force_flush()
        receiver.wait_for(lambda s: s.kind == SPAN_KIND_SERVER)
    assert [line["batches"] for line in _events(logs, "span_export_failed")] == [1]
    assert len(_events(logs, "span_export_resumed")) == 1
