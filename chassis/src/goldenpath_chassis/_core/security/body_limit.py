"""A request body size limit (SEC-1): 413 before the body is read in full.

A declared `Content-Length` above the limit is refused at once, before routing, authentication
or a single body byte is read. A body without a length (chunked) is counted as it streams in;
the read that crosses the limit raises a 413 `HTTPException`, which FastAPI passes to the
problem handlers, so the application never holds more than the limit in memory.

FastAPI 0.165 has a native `max_body_size`, but it only acts when the application reads the
body, and it answers outside the problem-details format. This middleware refuses oversized
declared bodies before anything else runs and keeps one error format (OBS-4).
"""

from __future__ import annotations

from http import HTTPStatus

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import problem_response

_CONTENT_LENGTH = b"content-length"
_TRANSFER_ENCODING = b"transfer-encoding"


class BodyTooLargeError(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            detail=f"The request body is larger than {limit} bytes.",
        )


def declared_body(scope: Scope) -> tuple[int | None, bool]:
    """What the request's head says of its body: its `Content-Length` (None without a valid
    one), and whether it is sent in chunks (`Transfer-Encoding`)."""
    declared: int | None = None
    streamed = False
    name: bytes
    value: bytes
    for name, value in scope["headers"]:
        if name == _CONTENT_LENGTH:
            declared = int(value) if value.isdigit() else None
        elif name == _TRANSFER_ENCODING:
            streamed = True
    return declared, streamed


def body_may_exceed(scope: Scope, most_bytes: int) -> bool:
    """Whether the request's head lets its body be longer than `most_bytes`: a longer
    `Content-Length`, or chunks (whose length is known only at their end)."""
    declared, streamed = declared_body(scope)
    return streamed or (declared is not None and declared > most_bytes)


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared, streamed = declared_body(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        if declared is None and not streamed:
            await self.app(scope, receive, send)  # no body to count
            return

        received = 0
        limit = self.max_bytes

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLargeError(limit)
            return message

        response_started = False

        async def tracking_send(message: Message) -> None:
            nonlocal response_started
            if message["type"] == "http.response.start":
                response_started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLargeError:
            # Read outside FastAPI's request handling (a middleware or a raw ASGI route).
            if response_started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            status=HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            scope=scope,
            detail=f"The request body is larger than {self.max_bytes} bytes.",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
