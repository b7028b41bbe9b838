"""INF-1 in-process: whatever way a request ends, the process's count of requests in flight
comes back down, or one such ending would leave it shedding every request for good; and a path
that starts like a probe's or the scrape's, exempt, reaches no route of the API.

Each request is held in its handler until the test lets it go (an event, no sleep)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.responses import StreamingResponse
from starlette.types import Message

from goldenpath_chassis import ChassisSettings, Domain, Service
from goldenpath_chassis._core.state import chassis_of
from goldenpath_chassis.security import Public

from tests.example.service import SERVICE

pytestmark = pytest.mark.integration


class Gate:
    """Where a held request says it is in its handler, and waits to be let go."""

    def __init__(self) -> None:
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def hold(self) -> None:
        self.arrived.set()
        await self.release.wait()


GATES: list[Gate] = []

router = APIRouter(prefix="/v1/test/endings", dependencies=[Public])


@router.get("/held")
async def held() -> dict[str, bool]:
    await GATES[-1].hold()
    return {"held": True}


@router.get("/raises")
async def raises() -> None:
    raise RuntimeError("the handler failed")


@router.get("/streamed")
async def streamed(pieces: int = 3) -> StreamingResponse:
    async def body() -> AsyncIterator[bytes]:
        for _ in range(pieces):
            yield b"x" * 1024
            await asyncio.sleep(0)  # let the disconnect be seen between pieces

    return StreamingResponse(body(), media_type="application/octet-stream")


@pytest.fixture(scope="session")
def service() -> Service:
    endings = Domain(name="endings", routers=(router,))
    return dataclasses.replace(SERVICE, domains=lambda: (*SERVICE.domains(), endings))


@pytest.fixture
def settings(service: Service, database_url: str, auth_settings: dict[str, str]) -> ChassisSettings:
    return service.load_settings(
        app_env="test", database_url=database_url, max_concurrent_requests="1", **auth_settings
    )


@pytest.fixture
def gate() -> Gate:
    GATES.append(Gate())
    return GATES[-1]


def in_flight(app: FastAPI) -> int:
    return chassis_of(app).admission.in_flight


async def test_inf1_an_answered_request_is_counted_while_in_its_handler_and_then_not(
    app: FastAPI, client: httpx.AsyncClient, gate: Gate
) -> None:
    request = asyncio.create_task(client.get("/v1/test/endings/held"))
    await gate.arrived.wait()
    assert in_flight(app) == 1
    # The limit is reached: refused, and not counted.
    assert (await client.get("/v1/widgets")).status_code == 503
    assert in_flight(app) == 1
    gate.release.set()
    assert (await request).status_code == 200
    assert in_flight(app) == 0


async def test_inf1_a_request_whose_handler_raises_is_no_longer_counted(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    assert (await client.get("/v1/test/endings/raises")).status_code == 500
    assert in_flight(app) == 0
    assert (await client.get("/v1/widgets")).status_code == 200


async def test_inf1_a_cancelled_request_is_no_longer_counted(
    app: FastAPI, client: httpx.AsyncClient, gate: Gate
) -> None:
    request = asyncio.create_task(client.get("/v1/test/endings/held"))
    await gate.arrived.wait()
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    assert in_flight(app) == 0
    assert (await client.get("/v1/widgets")).status_code == 200


async def test_inf1_a_streamed_answer_is_counted_until_its_last_piece(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.get("/v1/test/endings/streamed", params={"pieces": 3})
    assert (response.status_code, len(response.content)) == (200, 3 * 1024)
    assert in_flight(app) == 0


async def call(
    app: FastAPI, path: str, receive: Any, send: Any, headers: Sequence[tuple[bytes, bytes]] = ()
) -> None:
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"pieces=1000000",
        "headers": [(b"host", b"test"), *headers],
        "client": ("127.0.0.1", 50000),
        "server": ("test", 80),
    }
    await app(scope, receive, send)


async def test_inf1_a_request_whose_client_went_away_is_no_longer_counted(app: FastAPI) -> None:
    # A streamed answer of a million pieces, to a client that disconnects after the first.
    sent: list[Message] = []
    first_piece = asyncio.Event()

    async def receive() -> Message:
        await first_piece.wait()
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "http.response.body":
            first_piece.set()

    await call(app, "/v1/test/endings/streamed", receive, send)
    assert sent[0]["status"] == 200
    assert len(sent) < 1000
    assert in_flight(app) == 0


async def test_inf1_a_request_whose_answer_cannot_be_sent_is_no_longer_counted(
    app: FastAPI,
) -> None:
    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        raise OSError("the connection is gone")

    with contextlib.suppress(OSError):  # the request layer's to report, or not
        await call(app, "/v1/widgets", receive, send)
    assert in_flight(app) == 0


async def test_inf1_at_the_limit_a_path_that_starts_like_a_probe_reaches_no_api_route(
    app: FastAPI, client: httpx.AsyncClient, gate: Gate, auth_headers: dict[str, str]
) -> None:
    # Routing reads the path the exemption reads (`scope["path"]`, percent-decoded by the
    # server, dot segments kept): `/health/live%2F..` arrives as `/health/live/..`.
    request = asyncio.create_task(client.get("/v1/test/endings/held"))
    await gate.arrived.wait()
    try:
        assert (await client.get("/v1/widgets")).status_code == 503
        for path in ("/health/../v1/widgets", "/health/live/..", "/metricsX", "/metrics/"):
            assert await status_of(app, path, auth_headers) == 404, path
        assert (await client.get("/health/live")).status_code == 200
        assert (await client.get("/metrics")).status_code == 200
    finally:
        gate.release.set()
        await request
    assert in_flight(app) == 0


async def status_of(app: FastAPI, path: str, headers: dict[str, str]) -> int:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    await call(app, path, receive, send, headers=raw)
    status: int = sent[0]["status"]
    return status


async def test_inf1_the_lifespan_and_a_websocket_are_not_requests(app: FastAPI) -> None:
    # The lifespan ran (the `app` fixture) without being counted; a websocket is not refused.
    assert in_flight(app) == 0
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "websocket.connect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/v1/widgets",
        "raw_path": b"/v1/widgets",
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "subprotocols": [],
    }
    await app(scope, receive, send)
    assert [message["type"] for message in sent] == ["websocket.close"]
    assert in_flight(app) == 0
