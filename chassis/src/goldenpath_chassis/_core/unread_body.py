"""An answer sent before the app read a large or unbounded request body to its end closes its
connection (SEC-1).

uvicorn keeps the connection of a request answered early (the 401 before the body, a 429 from
the rate limiter, a 500) and, to reuse it, reads and drops the rest of the body: all of it,
whatever the head declared (gigabytes) or for as long as chunks keep coming, past
`REQUEST_MAX_BODY_BYTES`, which the app enforces only on what it reads. Such an answer gets
`Connection: close` when the head declares a body past the limit or sends it in chunks (its
length unknown), as the 413 and the load shedding's 503 do, and uvicorn closes the connection
once it is sent. A body within the limit keeps the connection: reading it costs little, and a
client that sends its whole body before reading any answer would see a connection closed on
an unread body reset, its answer possibly lost with it.
"""

from __future__ import annotations

from starlette.types import Message, Receive, Scope, Send

from .security.body_limit import body_may_exceed

_CLOSE = (b"connection", b"close")


def say_close(headers: list[tuple[bytes, bytes]]) -> None:
    """Add `Connection: close` to a response's headers, unless they say it already (the 413 and
    the 503 do): uvicorn closes the connection once the response is sent."""
    if _CLOSE not in headers:
        headers.append(_CLOSE)


def close_if_answered_early(
    scope: Scope, receive: Receive, send: Send, *, max_body_bytes: int
) -> tuple[Receive, Send]:
    """`receive` and `send` as they are for a request whose body is within `max_body_bytes`;
    otherwise watched, so that an answer started before the app read the body to its end says
    `Connection: close`."""
    if not body_may_exceed(scope, max_body_bytes):
        return receive, send
    ended = False

    async def watched_receive() -> Message:
        nonlocal ended
        message = await receive()
        if not message.get("more_body", False):  # the body's last piece, or a disconnect
            ended = True
        return message

    async def closing_send(message: Message) -> None:
        if message["type"] == "http.response.start" and not ended:
            headers = list(message.get("headers", ()))
            say_close(headers)
            message = {**message, "headers": headers}
        await send(message)

    return watched_receive, closing_send
