"""A test-only domain of the example service: a route held until the test lets it go.

`GET /v1/test/held?gate=PORT` connects to the test's listener on loopback port PORT and answers
`{"held": true}` once the test writes to that connection or closes it. The test knows each
request is in its handler when it accepts the connection, and decides when it ends: no sleep,
no race. A release over HTTP would not do: at the concurrency limit it would itself be shed.
Public, out of the API document, only in the processes the process tests start.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query

from goldenpath_chassis import Domain
from goldenpath_chassis.security import Public

router = APIRouter(prefix="/v1/test/held", dependencies=[Public], include_in_schema=False)


@router.get("")
async def held(gate: Annotated[int, Query(ge=1, le=65535)]) -> dict[str, bool]:
    reader, writer = await asyncio.open_connection("127.0.0.1", gate)
    try:
        await reader.read(1)  # a byte or the end: the test opened the gate
    finally:
        writer.close()
    return {"held": True}


DOMAIN = Domain(name="held", routers=(router,))
