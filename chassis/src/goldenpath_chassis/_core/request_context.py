"""Request IDs and the access log (OBS-3), as one pure ASGI middleware.

A well-formed `X-Request-ID` from the caller is kept (so an ID can follow a request across
services); anything else is replaced by a fresh one. The ID is bound to structlog's context, so
every log line of the request carries it, stored in `scope["state"]` for error responses, and
echoed in the response. Pure ASGI rather than `BaseHTTPMiddleware`: no extra task or body copy
per request.

Other per-request records (the request metrics of core/metrics.py) hook in as observers rather
than as middleware of their own: each middleware layer that watches the response costs about
2 µs a request, and this one already knows the status and the duration.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Sequence
from typing import Protocol

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .logging import get_logger

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_BYTES = REQUEST_ID_HEADER.encode()
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
# Probes and scrapes would drown the access log; they are logged only when they fail.
_QUIET_PREFIXES = ("/health/", "/metrics")

_access_log = get_logger("access")


class RequestObserver(Protocol):
    """Told when each HTTP request starts and ends (after routing: `scope["route"]` is set)."""

    def request_started(self, scope: Scope) -> None: ...

    def request_finished(self, scope: Scope, status: int, seconds: float) -> None: ...


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == _REQUEST_ID_BYTES:
            return value.decode("ascii") if _VALID_REQUEST_ID.fullmatch(value) else None
    return None


def _route_template(scope: Scope) -> str | None:
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, observers: Sequence[RequestObserver] = ()) -> None:
        self.app = app
        self.observers = tuple(observers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        header = (_REQUEST_ID_BYTES, request_id.encode("ascii"))
        status = 500
        for observer in self.observers:
            observer.request_started(scope)
        started = time.perf_counter()

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_request_id)
        finally:
            seconds = time.perf_counter() - started
            for observer in self.observers:
                observer.request_finished(scope, status, seconds)
            path: str = scope["path"]
            if status >= 400 or not path.startswith(_QUIET_PREFIXES):
                _access_log.info(
                    "request",
                    http_method=scope["method"],
                    url_path=path,
                    http_route=_route_template(scope),
                    status=status,
                    duration_ms=round(seconds * 1000, 2),
                    # The address behind trusted proxies when the rate limiter resolved it.
                    client=scope["state"].get("client_ip")
                    or (scope["client"][0] if scope.get("client") else None),
                )
            structlog.contextvars.clear_contextvars()
