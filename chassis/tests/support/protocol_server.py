"""A real uvicorn server on a loopback socket, in the test's event loop, with one of the HTTP
protocols the chassis gives it (`head_deadline.py`) and the timeouts a test sets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.types import ASGIApp

from goldenpath_chassis._core.head_deadline import (
    HeadDeadlineProtocol,
    protocol_with_head_deadline,
)

KEEP_ALIVE_SECONDS = 5
# Far above the close bound of the clients (tests/support/slow_clients.py): never reached.
NEVER = 600.0
# Far above any head or trailers the tests send.
UNBOUNDED = 1 << 40


@asynccontextmanager
async def serving(
    app: ASGIApp,
    protocol: type[HeadDeadlineProtocol],
    *,
    head_seconds: float = NEVER,
    idle_seconds: float = NEVER,
    head_max_bytes: int = UNBOUNDED,
    body_min_bytes_per_second: float = 1.0,
    body_grace_seconds: float = NEVER,
    send_seconds: float = NEVER,
) -> AsyncIterator[int]:
    """A uvicorn server with `protocol` and these timeouts; its port."""
    config = uvicorn.Config(
        app,
        http=protocol_with_head_deadline(
            head_timeout_seconds=head_seconds,
            idle_timeout_seconds=idle_seconds,
            head_max_bytes=head_max_bytes,
            body_min_bytes_per_second=body_min_bytes_per_second,
            body_grace_seconds=body_grace_seconds,
            send_timeout_seconds=send_seconds,
            base=protocol,
        ),
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        lifespan="off",
        ws="none",
        log_config=None,
    )
    server = uvicorn.Server(config)
    listener = socket.create_server(("127.0.0.1", 0))
    serve = asyncio.create_task(server.serve(sockets=[listener]))
    try:
        while not server.started:
            assert not serve.done(), serve.exception()
            await asyncio.sleep(0.01)
        yield listener.getsockname()[1]
    finally:
        server.should_exit = True
        await serve
        listener.close()
