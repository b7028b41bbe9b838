"""Serve the app with uvicorn as one process (INF-1), and stop it gracefully (INF-3).

On SIGTERM or SIGINT the process flips readiness to 503 at once, keeps serving for
`SHUTDOWN_DRAIN_SECONDS` (so load balancers stop sending traffic; every answer meanwhile says
`Connection: close`, request_context.py), then closes its listener, lets
in-flight requests finish within `SHUTDOWN_GRACE_SECONDS` (those still running then are cut
short, and said in one warning: shutdown_cuts.py), runs the lifespan shutdown (pools and
exporters closed and flushed) and exits 0. A second signal skips the drain; a third forces exit.

uvicorn re-raises the signal after a graceful shutdown, which makes the exit code 143 (128 +
SIGTERM) and looks like a crash to orchestrators; `GracefulServer` does not.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import signal
import socket
import threading
import time
from collections.abc import Generator
from types import FrameType
from typing import Literal

import uvicorn
from fastapi import FastAPI
from prometheus_client import Counter

from .garbage_collection import tune_for_serving
from .head_deadline import protocol_with_head_deadline, say_unsaid_closes
from .lifecycle import Lifecycle
from .logging import get_logger
from .settings import ChassisSettings
from .shutdown_cuts import said_as_one_warning
from .state import chassis_of
from .thread_switching import shorten_switch_interval

EXIT_OK = 0
EXIT_STARTUP_FAILED = 3
# uvicorn's default, named here because the head deadline's idle timer uses it too.
KEEP_ALIVE_SECONDS = 5
# The most bytes a request head (or a chunked body's trailers) may take on the wire, in
# REQUEST_MAX_HEADER_BYTES, which counts names and values alone: a head that limit lets through
# takes at most five times as much with its colons, line ends and one-letter names, and its
# request line fits in the rest (head_deadline.py).
HEAD_BYTES_PER_HEADER_BYTE = 8
_HANDLED_SIGNALS = (signal.SIGINT, signal.SIGTERM)

_log = get_logger(__name__)


class GracefulServer(uvicorn.Server):
    def __init__(
        self, config: uvicorn.Config, *, lifecycle: Lifecycle, drain_seconds: float
    ) -> None:
        super().__init__(config)
        self.lifecycle = lifecycle
        self.drain_seconds = drain_seconds
        self._exit_at: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        with said_as_one_warning(self.server_state, self.config.timeout_graceful_shutdown):
            super().run(sockets)

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        self._loop = asyncio.get_running_loop()  # uvicorn enters this inside `serve()`
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in _HANDLED_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)
            # Unlike uvicorn, do not re-raise the captured signal: a graceful stop is a success.

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self.should_exit:
            self.force_exit = True
        elif self.lifecycle.draining:
            self.should_exit = True
        else:
            self.lifecycle.begin_draining()
            self._exit_at = time.monotonic() + self.drain_seconds
            self._log_soon(
                "shutdown_signal",
                signal=signal.Signals(sig).name,
                drain_seconds=self.drain_seconds,
            )

    def _log_soon(self, event: str, **fields: object) -> None:
        """Log from the event loop, never from the signal handler itself.

        A handler runs between any two bytecodes of the main thread, possibly in the middle of
        a log write that holds the logger's lock (not reentrant): logging there would deadlock
        the process. The empty context keeps the line free of the interrupted request's ID
        (OBS-3).
        """
        if self._loop is None:  # signals not captured (not the main thread): no handler runs
            _log.info(event, **fields)
            return
        self._loop.call_soon_threadsafe(
            functools.partial(_log.info, event, **fields), context=contextvars.Context()
        )

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # The lifespan has run and the listener is open: start-up is over. The collector, paused
        # for it by `__main__`, resumes, with start-up's objects frozen out of its way.
        tune_for_serving()
        # And the event loop gets the GIL back from a busy thread (the span exporter) sooner.
        shorten_switch_interval()

    async def on_tick(self, counter: int) -> bool:
        if self._exit_at is not None and time.monotonic() >= self._exit_at:
            self.should_exit = True
        return await super().on_tick(counter)


def build_config(
    app: FastAPI,
    settings: ChassisSettings,
    *,
    closed_connections: Counter | None = None,
    port: int | None = None,
    lifespan: Literal["on", "off"] = "on",
) -> uvicorn.Config:
    """`closed_connections`: the app's `http_server_connections_closed_total`, which counts the
    protocol's closes of slow or abusive clients. `port` in place of SERVER_PORT and `lifespan`
    off: the worker's listener (worker_http.py), whose resources the worker opens."""
    return uvicorn.Config(
        app,
        host=settings.server.host,
        port=settings.server.port if port is None else port,
        # One process; replicas are the orchestrator's job (INF-1).
        workers=None,
        # Our logging pipeline handles uvicorn's loggers; the access log is ours (OBS-3).
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(max(1, round(settings.server.shutdown_grace_seconds))),
        server_header=False,
        # Forwarded headers are read by the service itself, from trusted proxies only.
        proxy_headers=False,
        lifespan=lifespan,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        # uvicorn times a connection out only between requests, and httptools bounds no head
        # (head_deadline.py, body_rate.py, send_timeout.py).
        http=protocol_with_head_deadline(
            head_timeout_seconds=settings.request_limits.header_timeout_seconds,
            idle_timeout_seconds=KEEP_ALIVE_SECONDS,
            head_max_bytes=settings.request_limits.max_header_bytes * HEAD_BYTES_PER_HEADER_BYTE,
            body_min_bytes_per_second=settings.request_limits.body_min_bytes_per_second,
            body_grace_seconds=settings.request_limits.body_grace_seconds,
            send_timeout_seconds=settings.server.response_send_timeout_seconds,
            closed_connections=closed_connections,
        ),
        # No WebSocket routes: "auto" would load a WebSocket implementation (wsproto) at start.
        ws="none",
    )


def serve(app: FastAPI, settings: ChassisSettings) -> int:
    """Run until stopped; return the process exit code."""
    instruments = chassis_of(app).instruments
    config = build_config(
        app, settings, closed_connections=instruments.metrics.http_server_connections_closed
    )
    server = GracefulServer(
        config,
        lifecycle=instruments.lifecycle,
        drain_seconds=settings.server.shutdown_drain_seconds,
    )
    server.run()
    if not server.started:
        return EXIT_STARTUP_FAILED
    # What the throttled warnings have not said yet: the protocol's closes, the requests shed.
    say_unsaid_closes(config.http)
    chassis_of(app).admission.say_rest()
    _log.info("shutdown_complete")
    return EXIT_OK
