"""A test-only domain of the example service: one deliberately slow route, for graceful shutdown.

`GET /v1/test/slow?seconds=2.5` sleeps, then answers `{"slept": 2.5}`; `GET
/v1/test/slow/in-flight` says how many of those the process is serving, so a test sends its
signal only once they are in flight (no sleep-and-hope). Both are public and out of the API
document: they exist for the shutdown tests (tests/process, tests/reliability).
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from goldenpath_chassis import Domain
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


DOMAIN = Domain(name="slow", routers=(router,))
