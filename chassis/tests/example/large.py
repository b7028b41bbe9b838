"""A test-only domain of the example service: a large answer after a read, for slow readers.

`GET /v1/test/large?kib=16384` reads from the database in the request's session (a read never
commits: its transaction stays open until the session is closed), then answers that many KiB;
with `&streamed=true`, in 64 KiB pieces (`&read_while_streaming=true`: reading from the
session again before each piece). uvicorn waits for a client to drain only before a
piece after the first: a body sent whole is handed to the transport at once, and only a body
in pieces holds its handler in `send` while the client does not read. Public, out of the API
document, only in the processes the process tests start.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from sqlalchemy import text

from goldenpath_chassis import Domain
from goldenpath_chassis.data import request_session
from goldenpath_chassis.security import Public

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

router = APIRouter(prefix="/v1/test/large", dependencies=[Public], include_in_schema=False)


PIECE_KIB = 64
_MEDIA_TYPE = "application/octet-stream"


@router.get("")
async def large(
    request: Request,
    kib: Annotated[int, Query(ge=1, le=65536)] = 1,
    streamed: bool = False,
    read_while_streaming: bool = False,
) -> Response:
    session = request_session(request)
    await session.execute(text("SELECT 1"))
    if not streamed:
        return Response(b"x" * (kib * 1024), media_type=_MEDIA_TYPE)
    pieces = _pieces(kib, session if read_while_streaming else None)
    return StreamingResponse(pieces, media_type=_MEDIA_TYPE)


async def _pieces(kib: int, session: AsyncSession | None) -> AsyncIterator[bytes]:
    whole, rest = divmod(kib, PIECE_KIB)
    for size in [PIECE_KIB] * whole + ([rest] if rest else []):
        if session is not None:
            await session.execute(text("SELECT 1"))
        yield b"x" * (size * 1024)


DOMAIN = Domain(name="large", routers=(router,))
