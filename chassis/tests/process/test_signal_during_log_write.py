"""INF-3: a SIGTERM that lands in the middle of a log write starts the drain; it does not hang.

The failure this guards against was seen in CI: the signal handler logged, the signal had
interrupted a log write holding structlog's per-file lock (not reentrant), and the handler
waited for that lock forever. Here a real process, with the service's logging configuration,
sends itself SIGTERM from inside the write of a log line, so the handler always runs while the
lock is held.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.process

SCRIPT = textwrap.dedent(
    """
    import asyncio, io, os, signal, sys

    import uvicorn
    from fastapi import FastAPI

    from goldenpath_chassis._core.lifecycle import Lifecycle
    from goldenpath_chassis._core.logging import configure_logging, get_logger
    from goldenpath_chassis._core.server import GracefulServer


    class SignalsDuringFirstWrite(io.RawIOBase):
        def __init__(self) -> None:
            self.written = bytearray()
            self.armed = True

        def writable(self) -> bool:
            return True

        def write(self, data) -> int:
            if self.armed:  # the first line: SIGTERM arrives while it is being written
                self.armed = False
                os.kill(os.getpid(), signal.SIGTERM)
            self.written += data
            return len(data)


    sink = SignalsDuringFirstWrite()
    sys.stdout = io.TextIOWrapper(io.BufferedWriter(sink), write_through=True)
    configure_logging(level="INFO", fmt="json")


    async def main() -> None:
        server = GracefulServer(uvicorn.Config(FastAPI()), lifecycle=Lifecycle(), drain_seconds=0)
        with server.capture_signals():
            get_logger("test").info("request_line")
            for _ in range(3):
                await asyncio.sleep(0)  # the loop's turns, for the handler's deferred line
        assert server.lifecycle.draining, "the signal did not start the drain"


    asyncio.run(main())
    sys.stdout.flush()
    sys.__stdout__.write(sink.written.decode())
    """
)


def test_inf3_sigterm_during_a_log_write_drains_instead_of_hanging() -> None:
    try:
        completed = subprocess.run(
            [sys.executable, "-c", SCRIPT], check=False, capture_output=True, text=True, timeout=20
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the process hung (20 s) once SIGTERM landed during a log write")
    assert completed.returncode == 0, completed.stderr
    events = [json.loads(line)["event"] for line in completed.stdout.splitlines() if line]
    assert events == ["request_line", "shutdown_signal"], completed.stdout
