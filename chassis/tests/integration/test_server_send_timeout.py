"""SEC-1 (CWE-400): a client that does not read its response is reset, with both HTTP protocols
uvicorn can pick.

A real uvicorn server on a loopback socket, in the test's event loop, with each protocol
(tests/support/protocol_server.py), watched for when its transport pauses and resumes writing;
the clients are raw sockets in a thread, with a small receive buffer
(tests/support/slow_readers.py). Without the send timeout uvicorn holds a connection whose
client stopped reading for as long as the client likes: the unsent bytes in its buffer and, for
a response in pieces, the handler waiting in `send`.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from starlette.responses import StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from goldenpath_chassis._core.head_deadline import H11WithHeadDeadline, HeadDeadlineProtocol
from goldenpath_chassis._core.head_deadline_httptools import HttpToolsWithHeadDeadline

from tests.support.protocol_server import serving
from tests.support.slow_clients import CLOSE_BOUND_SECONDS
from tests.support.slow_readers import (
    ended_by_server,
    read_steadily,
    read_to_the_end,
    trickled_until_ended,
    unread_request,
)

pytestmark = pytest.mark.integration

PROTOCOLS = pytest.mark.parametrize(
    "protocol", [HttpToolsWithHeadDeadline, H11WithHeadDeadline], ids=["httptools", "h11"]
)
SEND_TIMEOUT_SECONDS = 1.0
# Far more than the server's kernel takes at once (tests/support/slow_readers.py): its transport
# keeps the rest, above its high-water mark.
UNREAD_BYTES = 16 * 1024 * 1024
# Read slowly for several timeouts, then at full speed: writing stays paused all along (a body
# sent whole leaves the transport's buffer only as the kernel's empties), the client takes some
# of it in every interval, and the kernel, whose queue holds megabytes, asks the transport for
# more only after the slow part.
STEADY_BYTES = 8 * 1024 * 1024
STEADY_BYTES_PER_SECOND = 256 * 1024
STEADY_SECONDS = 3 * SEND_TIMEOUT_SECONDS
PIECE = bytes(range(256)) * 256


@dataclass
class Writing:
    """When the server's transport paused and resumed writing, in the loop's time."""

    pauses: list[float] = field(default_factory=list)
    resumes: list[float] = field(default_factory=list)

    def longest_pause(self) -> float:
        # One connection at a time: each resume ends the pause before it.
        return max(
            (end - start for start, end in zip(self.pauses, self.resumes, strict=False)),
            default=0.0,
        )


def watched(protocol: type[HeadDeadlineProtocol], writing: Writing) -> type[HeadDeadlineProtocol]:
    """`protocol`, saying in `writing` when its transport pauses and resumes writing."""

    def pause_writing(self: HeadDeadlineProtocol) -> None:
        writing.pauses.append(asyncio.get_running_loop().time())
        super(subclass, self).pause_writing()

    def resume_writing(self: HeadDeadlineProtocol) -> None:
        writing.resumes.append(asyncio.get_running_loop().time())
        super(subclass, self).resume_writing()

    subclass: type[HeadDeadlineProtocol] = type(
        protocol.__name__,
        (protocol,),
        {"pause_writing": pause_writing, "resume_writing": resume_writing},
    )
    return subclass


@dataclass
class Streams:
    """Whether the streamed answer's generator has ended (its `finally` ran), and whether its
    handler then returned."""

    released: asyncio.Event = field(default_factory=asyncio.Event)
    finished: bool = False


def answers(streams: Streams) -> ASGIApp:
    """`/whole?bytes=N`: N bytes in one message; `/streamed`: pieces without end, each after an
    await (as a generator waiting on its source does)."""

    async def pieces() -> AsyncIterator[bytes]:
        try:
            while True:
                await asyncio.sleep(0)
                yield PIECE
        finally:
            streams.released.set()

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"] == "/streamed":
            await StreamingResponse(pieces())(scope, receive, send)
            streams.finished = True
            return
        size = int(scope["query_string"].decode().removeprefix("bytes="))
        body = PIECE * (size // len(PIECE))
        headers = [(b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def errors_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


@PROTOCOLS
@pytest.mark.parametrize("connection", ["keep-alive", "close"])
async def test_sec1_a_client_that_never_reads_a_body_sent_whole_is_reset(
    protocol: type[HeadDeadlineProtocol], connection: str, caplog: pytest.LogCaptureFixture
) -> None:
    # With `Connection: close` uvicorn closes the transport once the body is written: a close
    # waits for the buffer to be sent, and held it as long.
    writing = Writing()
    app = answers(Streams())
    server = serving(app, watched(protocol, writing), send_seconds=SEND_TIMEOUT_SECONDS)
    async with server as port:
        sock = await asyncio.to_thread(
            unread_request,
            port,
            f"/whole?bytes={UNREAD_BYTES}",
            headers=f"Connection: {connection}\r\n",
        )
        with sock:
            assert await asyncio.to_thread(ended_by_server, sock), "an unread answer is held"
            ended = await asyncio.to_thread(read_to_the_end, sock)
    assert writing.pauses, "the server's transport never paused: the test proves nothing"
    assert ended.reset
    assert len(ended.received) < UNREAD_BYTES
    assert errors_logged(caplog) == []


@PROTOCOLS
async def test_sec1_a_streamed_answer_never_read_releases_its_handler(
    protocol: type[HeadDeadlineProtocol], caplog: pytest.LogCaptureFixture
) -> None:
    # The generator waits in `send` while the client does not read: the reset wakes it, and the
    # request is disconnected, so the response ends its generator (whose `finally` runs).
    writing = Writing()
    streams = Streams()
    server = serving(
        answers(streams), watched(protocol, writing), send_seconds=SEND_TIMEOUT_SECONDS
    )
    async with server as port:
        with await asyncio.to_thread(unread_request, port, "/streamed") as sock:
            await asyncio.wait_for(streams.released.wait(), CLOSE_BOUND_SECONDS)
            ended = await asyncio.to_thread(read_to_the_end, sock)
    assert writing.pauses, "the server's transport never paused: the test proves nothing"
    assert ended.reset
    assert streams.finished, "the handler did not return"
    assert errors_logged(caplog) == []


@PROTOCOLS
async def test_sec1_a_client_reading_a_byte_at_a_time_is_reset(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    # The slow read attack: each byte read keeps the client busy, and takes nothing from the
    # server (its TCP window stays shut until much of its receive buffer is free).
    writing = Writing()
    server = serving(
        answers(Streams()), watched(protocol, writing), send_seconds=SEND_TIMEOUT_SECONDS
    )
    async with server as port:
        with await asyncio.to_thread(unread_request, port, f"/whole?bytes={UNREAD_BYTES}") as sock:
            assert await asyncio.to_thread(trickled_until_ended, sock), "a trickle reader is held"
            ended = await asyncio.to_thread(read_to_the_end, sock)
    assert writing.pauses, "the server's transport never paused: the test proves nothing"
    assert ended.reset


@PROTOCOLS
async def test_sec1_a_client_reading_slowly_but_steadily_gets_the_whole_body(
    protocol: type[HeadDeadlineProtocol],
) -> None:
    writing = Writing()
    server = serving(
        answers(Streams()), watched(protocol, writing), send_seconds=SEND_TIMEOUT_SECONDS
    )
    async with server as port:
        with await asyncio.to_thread(unread_request, port, f"/whole?bytes={STEADY_BYTES}") as sock:
            head, body = await asyncio.to_thread(
                read_steadily,
                sock,
                bytes_per_second=STEADY_BYTES_PER_SECOND,
                for_seconds=STEADY_SECONDS,
            )
    assert head.startswith(b"HTTP/1.1 200 ")
    assert body == PIECE * (STEADY_BYTES // len(PIECE))
    # Writing stayed paused for longer than the timeout: what is timed is a stall, not a pause.
    assert writing.longest_pause() > SEND_TIMEOUT_SECONDS, writing
