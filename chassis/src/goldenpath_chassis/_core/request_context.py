"""The request layer: what every HTTP request gets before and after the app, in one pure ASGI
layer rather than a chain of middlewares that each wrap `send` and watch the response.

Outermost first, as the layers it replaces were stacked:
- the request ID (OBS-3): a well-formed `X-Request-ID` from the caller is kept (so an ID can
  follow a request across services), anything else replaced by a fresh one; bound to
  structlog's context (every log line of the request carries it), kept in `scope["state"]`
  for error responses, and echoed in the response;
- the request's metrics (OBS-1, `metrics.py`), its server span (OBS-2, `tracing.py`) and the
  access log line (OBS-3), all from the one measurement of the status and the duration;
  probes and scrapes are neither traced nor logged, unless they fail;
- the security headers (SEC-5, `security/headers.py`) on every response, a 431 or a 500 too;
- the header size limit (SEC-1): uvicorn's httptools parser sets none (it accepts a 10 MB
  header, or a hundred thousand headers); past `REQUEST_MAX_HEADER_BYTES`, names and values
  together, the request is refused with a 431 problem before any handler, limiter or
  authenticator looks at the headers;
- unhandled errors (OBS-4): anything the app raises is logged once and answered with a bare
  500 problem, if no response had started;
- an early answer's connection (SEC-1, `unread_body.py`): an answer sent before the app read
  to its end a body declared past `REQUEST_MAX_BODY_BYTES`, or sent in chunks, says
  `Connection: close`, so that the server does not read the rest to reuse the connection;
- draining (INF-3, `lifecycle.py`): once SIGTERM came, every answer says `Connection: close`,
  so that a client holding a keep-alive connection opens its next one elsewhere (readiness
  fails, the pod leaves the endpoints) rather than racing the listener's close at the drain's
  end;
- the request's clean-ups (`on_request_end`), once the app has answered: the database session
  is closed here rather than by a FastAPI dependency with `yield`, which costs more than the
  session itself on a request that never uses it; and the releases (`on_response_start`) as
  the response starts, before its body is sent: the session is released there too, so a
  client that reads a streamed body slowly, or stops reading, holds no pooled connection
  (uvicorn's `send` waits for the client to drain before each piece of a body after the first).

The headers are read in one pass: their size, the request ID and the trace context; and once
more for what they say of the body (`body_limit.declared_body`, which the load shedding reads
too).

The next layer in is load shedding (INF-1, `admission.py`): the 503 it answers past
`MAX_CONCURRENT_REQUESTS` in flight is logged, measured and traced here as any other answer.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import TYPE_CHECKING

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import log_unhandled, problem_response, unhandled_error_response
from .logging import get_logger
from .path_redaction import route_and_path
from .unread_body import close_if_answered_early, say_close

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from .lifecycle import Lifecycle
    from .metrics import HttpServerMetrics
    from .security.client_ip import ClientIpResolver
    from .security.headers import SecurityHeaders
    from .tracing import ServerSpans

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_BYTES = REQUEST_ID_HEADER.encode()
_VALID_REQUEST_ID = re.compile(rb"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
# Probes and scrapes arrive every few seconds from every replica: they would drown the access
# log (they are logged only when they fail) and the traces (never traced, `tracing.py`).
PROBE_AND_SCRAPE_PREFIXES = ("/health/", "/metrics")
_CLEANUPS = "chassis.cleanups"

_access_log = get_logger("access")
_log = get_logger(__name__)

Cleanup = Callable[[], Awaitable[None]]
# What `ServerSpans.start` returns: the span, the context's token and its name so far.
_Span = tuple["Span", object, str]
# What `route_and_path` returns: the route's template and the path, redacted.
_RouteAndPath = tuple[str | None, str]
Header = tuple[bytes, bytes]


def on_request_end(scope: Scope, cleanup: Cleanup) -> None:
    """Run `cleanup` once the app has answered the request (the request layer runs it)."""
    cleanups: list[Cleanup] | None = scope.get("state", {}).get(_CLEANUPS)
    if cleanups is None:
        raise RuntimeError("the chassis's request layer is not installed on this app")
    cleanups.append(cleanup)


class _Release:
    """A clean-up run as the response starts, and again once the app has answered (for what
    used the resource after the start: a streamed body, a background task)."""

    __slots__ = ("release",)

    def __init__(self, release: Cleanup) -> None:
        self.release = release

    def __call__(self) -> Awaitable[None]:
        return self.release()


def on_response_start(scope: Scope, release: Cleanup) -> None:
    """Run `release` as the response starts, before its body is sent (or once the app has
    answered, if no response starts), and again once the app has answered: it must cost
    nothing when there is nothing left to release."""
    on_request_end(scope, _Release(release))


class RequestLayer:
    def __init__(
        self,
        app: ASGIApp,
        *,
        routed_by: object,
        security_headers: SecurityHeaders,
        max_header_bytes: int,
        max_body_bytes: int,
        metrics: HttpServerMetrics | None = None,
        spans: ServerSpans | None = None,
        lifecycle: Lifecycle | None = None,
        client_ip: ClientIpResolver | None = None,
    ) -> None:
        self.app = app
        # The app whose routes requests are matched against, for the route's template and the
        # redacted path (a mounted sub-application replaces the scope's `app`).
        self.routed_by = routed_by
        self.security_headers = security_headers
        self.max_header_bytes = max_header_bytes
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.spans = spans
        self.lifecycle = lifecycle
        # The client behind trusted proxies (SEC-4), for the access log.
        self.client_ip = client_ip
        self._carrier_headers = spans.carrier_headers if spans is not None else frozenset()

    def _read_headers(self, scope: Scope) -> tuple[int, str, dict[str, str] | None]:
        """The headers' size, the request ID (the caller's, or a new one) and the carrier of
        the trace context, in one pass."""
        size = 0
        request_id: str | None = None
        carrier: dict[str, str] | None = None
        carrier_headers = self._carrier_headers
        for name, value in scope["headers"]:
            size += len(name) + len(value)
            if name == _REQUEST_ID_BYTES:
                if request_id is None and _VALID_REQUEST_ID.fullmatch(value):
                    request_id = value.decode("ascii")
            elif name in carrier_headers:
                if carrier is None:
                    carrier = {}
                carrier[name.decode("latin-1")] = value.decode("latin-1")
        return size, request_id or uuid.uuid4().hex, carrier

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        size, request_id, carrier = self._read_headers(scope)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        cleanups: list[Cleanup] = []
        state[_CLEANUPS] = cleanups
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        extra_headers = self.security_headers.for_path(scope["path"])
        add_headers = self.security_headers.add
        request_id_header = (_REQUEST_ID_BYTES, request_id.encode("ascii"))
        status: int | None = None
        receive, send = close_if_answered_early(
            scope, receive, send, max_body_bytes=self.max_body_bytes
        )

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                if cleanups:  # empty on most requests (a cache hit never opens a session)
                    await self._release(cleanups)
                headers = list(message.get("headers", ()))
                add_headers(extra_headers, scope, headers)
                self._add_own_headers(headers, request_id_header)
                message["headers"] = headers
            await send(message)

        if self.metrics is not None:
            self.metrics.request_started(scope)
        span: _Span | None = None
        if self.spans is not None and self.spans.traced(scope):
            span = self.spans.start(scope, carrier)
        error: BaseException | None = None
        # Found early when an unhandled error's line needs the path, and not found again.
        route_and_redacted: _RouteAndPath | None = None
        started = time.perf_counter()
        try:
            if size > self.max_header_bytes:
                await self._refuse_headers(scope, receive, send_with_headers)
                return
            try:
                await self.app(scope, receive, send_with_headers)
            except Exception as exc:
                error = exc
                route_and_redacted = route_and_path(scope, self.routed_by)
                log_unhandled(scope, route_and_redacted[1])
                # Once a response has started it is too late for a problem: the server closes
                # the connection.
                if status is None:
                    await unhandled_error_response(scope)(scope, receive, send_with_headers)
        except BaseException as exc:  # cancelled, or the client went away
            error = exc
            raise
        finally:
            await self._finish(
                scope,
                cleanups=cleanups,
                span=span,
                status=status,
                error=error,
                seconds=time.perf_counter() - started,
                route_and_redacted=route_and_redacted,
            )

    def _add_own_headers(self, headers: list[tuple[bytes, bytes]], request_id: Header) -> None:
        headers.append(request_id)
        # Read as the answer starts: a request in flight when SIGTERM came closes too.
        if self.lifecycle is not None and self.lifecycle.draining:
            say_close(headers)

    async def _refuse_headers(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = problem_response(
            status=HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE,
            scope=scope,
            detail=f"The request headers are larger than {self.max_header_bytes} bytes.",
            headers={"Connection": "close"},
        )
        await refusal(scope, receive, send)

    async def _finish(
        self,
        scope: Scope,
        *,
        cleanups: list[Cleanup],
        span: _Span | None,
        status: int | None,
        error: BaseException | None,
        seconds: float,
        route_and_redacted: _RouteAndPath | None,
    ) -> None:
        for cleanup in cleanups:
            await self._clean_up(cleanup)
        route, path = route_and_redacted or route_and_path(scope, self.routed_by)
        answered = 500 if status is None else status
        if self.metrics is not None:
            self.metrics.request_finished(scope, answered, seconds, route)
        if answered >= 400 or not path.startswith(PROBE_AND_SCRAPE_PREFIXES):
            _access_log.info(
                "request",
                http_method=scope["method"],
                url_path=path,
                http_route=route,
                status=answered,
                duration_ms=round(seconds * 1000, 2),
                client=self._client(scope),
            )
        if span is not None and self.spans is not None:
            self.spans.finish(
                *span,
                route=route,
                status=status,
                error=error,
                redacted_path=path if path != scope["path"] else None,
            )
        structlog.contextvars.clear_contextvars()

    def _client(self, scope: Scope) -> str | None:
        """The address behind trusted proxies: the rate limiter's, or resolved here when it did
        not run (turned off, or an answer before it: a 431, a shed request's 503)."""
        resolved: str | None = scope["state"].get("client_ip")
        if resolved is None and scope.get("client"):
            resolved = self.client_ip(scope) if self.client_ip else scope["client"][0]
        return resolved

    @classmethod
    async def _release(cls, cleanups: list[Cleanup]) -> None:
        for cleanup in cleanups:
            if isinstance(cleanup, _Release):
                await cls._clean_up(cleanup)

    @staticmethod
    async def _clean_up(cleanup: Cleanup) -> None:
        try:
            await cleanup()
        except Exception as exc:  # the response has gone: log it, never raise into the server
            _log.warning("request_cleanup_failed", error=type(exc).__name__)
