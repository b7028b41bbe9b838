"""The server's SIGTERM handler only flips state; what it logs is written from the event loop.

A Python signal handler runs between any two bytecodes of the main thread, so it can interrupt
a log write that holds the logger's lock, which is not reentrant: a handler that logged itself
would then wait for that lock forever, and the service would hang instead of draining (seen
under load in CI before the handler deferred its line).
"""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass, field

import pytest
import structlog
import uvicorn
from fastapi import FastAPI

from goldenpath_chassis._core import server as server_module
from goldenpath_chassis._core.lifecycle import Lifecycle
from goldenpath_chassis._core.server import GracefulServer

pytestmark = pytest.mark.unit


@dataclass
class RecordingLogger:
    """Stands in for the module's logger: what was logged, with the context it was logged in."""

    lines: list[tuple[str, dict[str, object], dict[str, object]]] = field(default_factory=list)

    def info(self, event: str, **fields: object) -> None:
        self.lines.append((event, fields, structlog.contextvars.get_contextvars()))


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> RecordingLogger:
    logger = RecordingLogger()
    monkeypatch.setattr(server_module, "_log", logger)
    return logger


def graceful_server() -> GracefulServer:
    return GracefulServer(uvicorn.Config(FastAPI()), lifecycle=Lifecycle(), drain_seconds=1.5)


async def test_sigterm_starts_draining_and_logs_from_the_loop_not_the_handler(
    recorded: RecordingLogger,
) -> None:
    server = graceful_server()
    structlog.contextvars.bind_contextvars(request_id="interrupted-request")
    try:
        with server.capture_signals():
            server.handle_exit(signal.SIGTERM, None)
            assert server.lifecycle.draining  # readiness says 503 at once
            assert not server.should_exit  # the drain comes first
            assert recorded.lines == [], "the signal handler itself must not log"
            await asyncio.sleep(0)  # one turn of the event loop
    finally:
        structlog.contextvars.clear_contextvars()

    # The line is written once the loop runs, without the interrupted request's ID (OBS-3).
    assert recorded.lines == [("shutdown_signal", {"signal": "SIGTERM", "drain_seconds": 1.5}, {})]


async def test_a_second_signal_skips_the_drain_and_a_third_forces_exit(
    recorded: RecordingLogger,
) -> None:
    server = graceful_server()
    with server.capture_signals():
        server.handle_exit(signal.SIGTERM, None)
        server.handle_exit(signal.SIGTERM, None)
        assert server.should_exit
        assert not server.force_exit
        server.handle_exit(signal.SIGINT, None)
        assert server.force_exit
        await asyncio.sleep(0)
    assert [event for event, _, _ in recorded.lines] == ["shutdown_signal"]
