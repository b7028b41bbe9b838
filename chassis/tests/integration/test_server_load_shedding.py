"""INF-1 with a real uvicorn server: a request whose response waits on a client that does not
read is not counted against MAX_CONCURRENT_REQUESTS while it waits, so that many such clients
do not have the process shed everyone else (a slow-read denial of service); counted again once
its client reads, and not at all once it has ended, however it ended.

The app is the chassis's, served on a loopback socket in the test's event loop with each HTTP
protocol (tests/support/protocol_server.py), watched for when a connection's transport pauses
writing; the clients are raw sockets with a small receive buffer that never read
(tests/support/slow_readers.py). The streamed answers' pieces come without an await between
them: once a connection's writing has paused, its handler goes on to its next piece and waits in
`send` before any other task runs, so the test knows it waits without a sleep. They are many but
not without end: once the client is gone, uvicorn's `send` returns at once, and a generator
without end and without an await would hold the event loop for good.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query
from fastapi.responses import StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from goldenpath_chassis import ChassisSettings, Domain, Service
from goldenpath_chassis._core.head_deadline import H11WithHeadDeadline, HeadDeadlineProtocol
from goldenpath_chassis._core.head_deadline_httptools import HttpToolsWithHeadDeadline
from goldenpath_chassis._core.state import chassis_of
from goldenpath_chassis.security import Public

from tests.example.service import SERVICE
from tests.support.protocol_server import serving
from tests.support.slow_clients import CLOSE_BOUND_SECONDS
from tests.support.slow_readers import read_to_the_end, unread_request

pytestmark = pytest.mark.integration

PROTOCOLS = pytest.mark.parametrize(
    "protocol", [HttpToolsWithHeadDeadline, H11WithHeadDeadline], ids=["httptools", "h11"]
)
LIMIT = 2
PIECE = bytes(range(256)) * 256
# 16 MiB: far more than the server's kernel takes at once (tests/support/slow_readers.py).
PIECES_BEFORE_THE_GATE = 256
STREAMED_PIECES = 4 * PIECES_BEFORE_THE_GATE
SEND_TIMEOUT_SECONDS = 1.0


class Tally:
    """What the server did, one key each (a connection, a request), and a wait for how many."""

    def __init__(self) -> None:
        self.seen: set[int] = set()
        self._noted = asyncio.Event()

    def note(self, key: int) -> None:
        self.seen.add(key)
        self._noted.set()

    async def reach(self, count: int) -> None:
        async with asyncio.timeout(CLOSE_BOUND_SECONDS):
            while len(self.seen) < count:
                self._noted.clear()
                await self._noted.wait()


@dataclasses.dataclass
class Gate:
    """Where the held answer says it has sent its pieces, and waits to be let go."""

    arrived: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)
    release: asyncio.Event = dataclasses.field(default_factory=asyncio.Event)


GATES: list[Gate] = []

router = APIRouter(prefix="/v1/test/unread", dependencies=[Public], include_in_schema=False)


@router.get("/streamed")
async def streamed() -> StreamingResponse:
    """64 MiB in pieces."""

    async def pieces() -> AsyncIterator[bytes]:
        for _ in range(STREAMED_PIECES):
            yield PIECE

    return StreamingResponse(pieces(), media_type="application/octet-stream")


@router.get("/held")
async def held(pieces: Annotated[int, Query(ge=1)]) -> StreamingResponse:
    """`pieces` pieces, then a wait at the test's gate (work of the server's), then one more."""
    gate = GATES[-1]

    async def body() -> AsyncIterator[bytes]:
        for _ in range(pieces):
            yield PIECE
        gate.arrived.set()
        await gate.release.wait()
        yield PIECE

    return StreamingResponse(body(), media_type="application/octet-stream")


@pytest.fixture(scope="session")
def service() -> Service:
    unread = Domain(name="unread", routers=(router,))
    return dataclasses.replace(SERVICE, domains=lambda: (*SERVICE.domains(), unread))


@pytest.fixture
def settings(service: Service, database_url: str, auth_settings: dict[str, str]) -> ChassisSettings:
    return service.load_settings(
        app_env="test",
        database_url=database_url,
        max_concurrent_requests=str(LIMIT),
        **auth_settings,
    )


@pytest.fixture
def gate() -> Gate:
    GATES.append(Gate())
    return GATES[-1]


def pauses_noted(protocol: type[HeadDeadlineProtocol], paused: Tally) -> type[HeadDeadlineProtocol]:
    """`protocol`, noting in `paused` each connection whose transport paused writing."""

    def pause_writing(self: HeadDeadlineProtocol) -> None:
        super(subclass, self).pause_writing()
        paused.note(id(self))

    subclass: type[HeadDeadlineProtocol] = type(
        protocol.__name__, (protocol,), {"pause_writing": pause_writing}
    )
    return subclass


def returns_noted(app: ASGIApp, returned: Tally) -> ASGIApp:
    """`app`, noting in `returned` each request it has returned from (every layer's `finally`
    has run)."""
    keys = itertools.count()

    async def noting(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await app(scope, receive, send)
        finally:
            returned.note(next(keys))

    return noting


def in_flight(app: FastAPI) -> int:
    return chassis_of(app).admission.in_flight


@contextlib.contextmanager
def closing(sockets: list[socket.socket]) -> Iterator[None]:
    """Close the clients' sockets at the end, unread: each a reset the server sees at once."""
    try:
        yield
    finally:
        for sock in sockets:
            sock.close()


@PROTOCOLS
async def test_inf1_clients_that_never_read_their_streamed_answers_leave_room_for_others(
    protocol: type[HeadDeadlineProtocol], app: FastAPI, auth_headers: dict[str, str]
) -> None:
    paused, returned = Tally(), Tally()
    async with serving(returns_noted(app, returned), pauses_noted(protocol, paused)) as port:
        stalled = [
            await asyncio.to_thread(unread_request, port, "/v1/test/unread/streamed")
            for _ in range(LIMIT)
        ]
        with closing(stalled):
            await paused.reach(LIMIT)
            # As many as the limit wait on their clients: an ordinary request is served.
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", headers=auth_headers
            ) as client:
                answer = await client.get("/v1/widgets")
                live = await client.get("/health/live")
            assert answer.status_code == 200, answer.text
            assert live.status_code == 200
            assert in_flight(app) == 0
        await returned.reach(LIMIT + 2)
    # The clients went away mid-stream: their handlers ended, and left no count behind.
    assert in_flight(app) == 0


@PROTOCOLS
async def test_inf1_an_answer_waiting_on_its_client_is_counted_again_once_the_client_reads(
    protocol: type[HeadDeadlineProtocol], app: FastAPI, gate: Gate
) -> None:
    paused, returned = Tally(), Tally()
    async with serving(returns_noted(app, returned), pauses_noted(protocol, paused)) as port:
        sock = await asyncio.to_thread(
            unread_request,
            port,
            f"/v1/test/unread/held?pieces={PIECES_BEFORE_THE_GATE}",
            headers="Connection: close\r\n",
        )
        with sock:
            await paused.reach(1)
            assert in_flight(app) == 0
            reading = asyncio.create_task(asyncio.to_thread(read_to_the_end, sock))
            # Read, the pieces went out; the handler works on (waits at the gate), counted.
            await asyncio.wait_for(gate.arrived.wait(), CLOSE_BOUND_SECONDS)
            assert in_flight(app) == 1
            gate.release.set()
            ended = await reading
        await returned.reach(1)
    assert not ended.reset
    assert len(ended.received) > (PIECES_BEFORE_THE_GATE + 1) * len(PIECE)
    assert in_flight(app) == 0


@PROTOCOLS
async def test_inf1_answers_reset_by_the_send_timeout_while_uncounted_leave_no_count(
    protocol: type[HeadDeadlineProtocol], app: FastAPI
) -> None:
    paused, returned = Tally(), Tally()
    server = serving(
        returns_noted(app, returned),
        pauses_noted(protocol, paused),
        send_seconds=SEND_TIMEOUT_SECONDS,
    )
    async with server as port:
        stalled = [
            await asyncio.to_thread(unread_request, port, "/v1/test/unread/streamed")
            for _ in range(LIMIT)
        ]
        with closing(stalled):
            await paused.reach(LIMIT)
            await returned.reach(LIMIT)  # reset, the handlers woke and ended
            ended = [await asyncio.to_thread(read_to_the_end, sock) for sock in stalled]
    assert [end.reset for end in ended] == [True] * LIMIT
    assert in_flight(app) == 0
