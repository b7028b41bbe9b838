"""A limit on the size of a request's headers (SEC-1): 431 problem, before routing.

uvicorn's httptools parser sets no limit: it accepts a 10 MB header, or a hundred thousand
headers, and hands them to the application. A reverse proxy in front usually refuses such a
request (nginx: 400 beyond `large_client_header_buffers`), but the service must not depend on
one being there. Past `REQUEST_MAX_HEADER_BYTES` (names and values together) the request is
refused with a 431 problem before any handler, limiter or authenticator looks at the headers.
"""

from __future__ import annotations

from http import HTTPStatus

from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import problem_response


class HeaderLimitMiddleware:
    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = sum(len(name) + len(value) for name, value in scope["headers"])
            if size > self.max_bytes:
                response = problem_response(
                    status=HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
                    scope=scope,
                    detail=f"The request headers are larger than {self.max_bytes} bytes.",
                    headers={"Connection": "close"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
