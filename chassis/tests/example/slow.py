"""A test-only domain of the example service: one deliberately slow route and one held job, for
graceful shutdown.

`GET /v1/test/slow?seconds=2.5` sleeps, then answers `{"slept": 2.5}`; `GET
/v1/test/slow/in-flight` says how many of those the process is serving, so a test sends its
signal only once they are in flight (no sleep-and-hope). Both are public and out of the API
document: they exist for the shutdown tests (tests/process, tests/reliability).

The `test.held` job connects to the loopback port its payload names and runs until the other
end closes the connection: a worker's shutdown test knows the job is in hand when it accepts
the connection, stops the worker then, and lets the job finish when it chooses.

The `test.blocking` job blocks the worker's event loop (time.sleep) for its payload's seconds,
as a handler doing CPU-bound or blocking work would; it says `job_blocking_loop` first, so the
liveness test probes while the loop is blocked.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from goldenpath_chassis import Domain
from goldenpath_chassis.logging import get_logger
from goldenpath_chassis.security import Public

router = APIRouter(prefix="/v1/test/slow", dependencies=[Public], include_in_schema=False)
_in_flight = 0


@router.get("")
async def slow(seconds: Annotated[float, Query(ge=0, le=60)] = 2.0) -> dict[str, float]:
    global _in_flight  # noqa: PLW0603 - one process, one counter: what the tests read
    _in_flight += 1
    try:
        await asyncio.sleep(seconds)
    finally:
        _in_flight -= 1
    return {"slept": seconds}


@router.get("/in-flight")
async def in_flight() -> dict[str, int]:
    return {"in_flight": _in_flight}


HELD_JOB = "test.held"


async def held_job(_: AsyncSession, payload: dict[str, Any]) -> None:
    """Held until the test closes the connection (or the worker's grace period cancels it)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", payload["release_port"])
    try:
        await reader.read()  # until the end of the stream: the release
    finally:
        writer.close()


BLOCKING_JOB = "test.blocking"


async def blocking_job(_: AsyncSession, payload: dict[str, Any]) -> None:
    """Blocks the event loop, and with it everything else the worker's process does."""
    get_logger(__name__).info("job_blocking_loop", seconds=payload["seconds"])
    time.sleep(payload["seconds"])  # noqa: ASYNC251 - the point: a handler that blocks the loop


DOMAIN = Domain(
    name="slow", routers=(router,), jobs={HELD_JOB: held_job, BLOCKING_JOB: blocking_job}
)
