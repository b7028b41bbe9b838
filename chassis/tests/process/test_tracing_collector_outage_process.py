"""OBS-2 with the service as a real process and a collector that misbehaves: down (a port that
refuses connections), hung (every export held open), overloaded (503 every time) or slow (held,
then answered). Requests are answered, the failure is said in the log (redacted, a few lines),
nothing the SDK prints reaches the output raw, and SIGTERM stops the process within its bound.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import httpx
import pytest

from goldenpath_chassis.testing.live import ServiceCredentials
from goldenpath_chassis.testing.otlp import (
    SPAN_KIND_SERVER,
    OtlpReceiver,
    otlp_receiver,
    unreachable_collector,
)
from goldenpath_chassis.testing.processes import ServiceProcess

from tests.support.example_process import FIRST_START_SECONDS, running_example

pytestmark = pytest.mark.process

type Collector = Literal["down", "hung", "overloaded", "slow"]

COLLECTOR_PASSWORD = "pw-9d0c11ec"
FLUSH_SECONDS = 2
# SIGTERM to exit, with no request in flight: the trace flush's bound, and what the rest of the
# shutdown takes (the pools closed, the interpreter's exit) with room to spare.
SHUTDOWN_BOUND_SECONDS = FLUSH_SECONDS + 5


@contextmanager
def _collector(kind: Collector) -> Iterator[tuple[str, OtlpReceiver | None]]:
    if kind == "down":
        with unreachable_collector() as endpoint:
            yield endpoint, None
        return
    answer: Literal["hold", "unavailable"] = "unavailable" if kind == "overloaded" else "hold"
    with otlp_receiver(answer=answer) as receiver:
        yield receiver.endpoint, receiver


def _lines(service: ServiceProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in service.output().splitlines()]


def _wait_for_event(service: ServiceProcess, event: str, *, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if f'"event":"{event}"' in service.output():
            return
        time.sleep(0.05)
    raise AssertionError(f"no {event} line within {timeout}s:\n{service.output()}")


@pytest.mark.parametrize("kind", ["down", "hung", "overloaded", "slow"])
def test_obs2_a_misbehaving_collector_costs_no_request_and_no_clean_shutdown(
    tmp_path: Path, service_credentials: ServiceCredentials, kind: Collector
) -> None:
    headers = dict(service_credentials.headers)
    with _collector(kind) as (endpoint, receiver):
        host = endpoint.removeprefix("http://")
        env = {
            **service_credentials.env,
            "APP_ENV": "development",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://collector:{COLLECTOR_PASSWORD}@{host}",
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            "OTEL_BSP_MAX_QUEUE_SIZE": "16",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "4",
            # Held exports stay open past the test; failing ones fail within one attempt.
            "OTEL_EXPORTER_OTLP_TIMEOUT": "60" if kind in {"hung", "slow"} else "0.5",
            "SHUTDOWN_TRACE_FLUSH_SECONDS": str(FLUSH_SECONDS),
        }
        log = tmp_path / "out.log"
        with running_example(env, log_path=log, timeout=FIRST_START_SECONDS) as service:
            with httpx.Client(base_url=service.base_url, headers=headers, timeout=10) as client:
                assert client.get("/v1/widgets").status_code == 200
                if receiver is not None and kind != "overloaded":
                    receiver.wait_until_held(1)
                else:
                    _wait_for_event(service, "span_export_failed")
                for _ in range(20):
                    assert client.get("/v1/widgets").status_code == 200
            if receiver is not None and kind == "hung":
                # Every request was answered while the first export stayed open, unanswered.
                assert receiver.held == 1
            if receiver is not None and kind == "slow":
                receiver.release()
                receiver.wait_for(lambda s: s.kind == SPAN_KIND_SERVER)
            service.signal()
            assert service.wait(timeout=SHUTDOWN_BOUND_SECONDS) == 0, service.output()

    output = service.output()
    lines = _lines(service)  # every line is JSON: nothing printed raw
    assert COLLECTOR_PASSWORD not in output
    assert [line for line in lines if line.get("logger", "").startswith("opentelemetry")] == []
    events = [line["event"] for line in lines]
    assert events[-1] == "shutdown_complete"
    failed = [line for line in lines if line["event"] == "span_export_failed"]
    dropped = [line for line in lines if line["event"] == "spans_dropped"]
    # Said at once and then once a minute (or at shutdown), never once an export or a span.
    assert len(failed) <= 2
    assert len(dropped) <= 2
    for line in failed:
        assert line["endpoint"] == f"http://REDACTED:REDACTED@{host}/v1/traces"
    if kind in {"down", "overloaded"}:
        assert failed
    if kind == "hung":
        # The first export held, sixteen spans queued, the others dropped.
        assert sum(line["spans"] for line in dropped) > len(dropped)
        assert "trace_flush_cut_short" in events
    if kind == "slow":
        assert "trace_flush_cut_short" not in events
