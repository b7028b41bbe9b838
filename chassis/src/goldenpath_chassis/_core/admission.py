"""Load shedding: a bound on the requests one process works on at once (INF-1).

Past its capacity a process that accepts everything slows every request together: latency
climbs past the clients' and the load balancer's timeouts, they retry, and the process works on
answers nobody waits for, its memory growing with the queue. Past `MAX_CONCURRENT_REQUESTS` in
flight, a request is refused at once with 503 and `Retry-After`, before any authentication,
body or database work, so the load balancer and the clients back off or try another replica,
and the requests accepted keep their latency.

`LoadShedding`, the layer just inside the request layer (which logs, measures and traces its
503 as any other answer), keeps the count: an increment and a decrement a request, on the event
loop's one thread (no lock). The probes and the metrics scrape are never refused, and counted
as any request: a busy process is alive and ready, and killing or unreadying it would move its
load onto the other replicas; a scrape is how its operators see the overload.

A request whose response waits on its client is not counted while it waits. Above the
transport's high-water mark uvicorn pauses writing, and the handler's next `send` waits
(`drain`) until the client has taken enough of what was written: the client's pace, not the
server's capacity. Counted, a client that asks for a streamed answer and stops reading would
keep its place until the send timeout resets it (`send_timeout.py`, a minute by default), and
that many such clients, renewed every minute, would have the process shed every other request.
The layer puts its count in the request's context (a context variable, set and reset: all a
request pays while writing never pauses); the flow control that `head_deadline.py` gives each
connection (`ClientPacedFlow`) takes the request out of it for the wait, and puts it back when
writing resumes. A body sent whole never waits (the transport takes it all, and the handler
returns): nothing changes for it.

uvicorn's own `limit_concurrency` is not used: it counts connections (an idle keep-alive
connection from a load balancer's pool too), refuses the probes alike, and answers plain text
that no log or metric of the service sees.
"""

from __future__ import annotations

from contextvars import ContextVar
from http import HTTPStatus

from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.flow_control import FlowControl

from .errors import ProblemResponse, problem_response, problem_type
from .logging import get_logger
from .request_context import PROBE_AND_SCRAPE_PREFIXES
from .security.body_limit import body_may_exceed
from .security.cors import CorsHeaders
from .throttled_line import ThrottledLine

# Small: a replica frees capacity within a second or so; the client retries soon, elsewhere
# if the load balancer can.
RETRY_AFTER_SECONDS = 1

_log = get_logger(__name__)


class Admission:
    """How many requests are in flight, against the most allowed; and the shed ones said.

    Kept by the app's state, not by the layer (which Starlette builds at the first request), so
    that the server says the rest at shutdown."""

    __slots__ = ("_shed_counter", "_shed_line", "in_flight", "limit")

    def __init__(self, limit: int, *, shed_counter: Counter) -> None:
        self.limit = limit
        self.in_flight = 0
        self._shed_counter = shed_counter
        self._shed_line = ThrottledLine(
            _log, "requests_shed", count_name="requests", max_concurrent_requests=limit
        )

    def shed(self, scope: Scope) -> ProblemResponse:
        """Count a refused request (metric, a warning at most once a minute) and its answer."""
        self._shed_counter.inc()
        self._shed_line.add()
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        if body_may_exceed(scope, 0):
            # Closed rather than kept: the server would read the body to its end to reuse the
            # connection, whatever its size (the body limit is further in), while overloaded.
            # Any body, not only one past the limit as for other early answers (`unread_body`).
            headers["Connection"] = "close"
        return problem_response(
            status=HTTPStatus.SERVICE_UNAVAILABLE,
            scope=scope,
            type_=problem_type("overloaded"),
            title="Overloaded",
            detail=f"The service is at capacity; retry after {RETRY_AFTER_SECONDS}s.",
            headers=headers,
        )

    def say_rest(self) -> None:
        """At shutdown: the requests shed since the last warning."""
        self._shed_line.say_rest()


class LoadShedding:
    """Refuses a request, other than a probe or a scrape, while `limit` are in flight."""

    def __init__(
        self, app: ASGIApp, *, admission: Admission, cors: CorsHeaders | None = None
    ) -> None:
        self.app = app
        self.admission = admission
        # This layer runs outside CORS: its refusals get their headers here, or a page on an
        # allowed origin could not read them (nor their Retry-After).
        self._cors = cors

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        admission = self.admission
        if scope["type"] != "http":  # the lifespan is not a request
            await self.app(scope, receive, send)
        elif admission.in_flight < admission.limit or scope["path"].startswith(
            PROBE_AND_SCRAPE_PREFIXES
        ):
            admission.in_flight += 1
            counted = _counted_in.set(admission)
            try:
                await self.app(scope, receive, send)
            finally:
                # Reset, or a response the server sends after the app (a 500) would take the
                # request out of a count it has already left.
                _counted_in.reset(counted)
                admission.in_flight -= 1
        else:
            if self._cors is not None:
                send = self._cors.send(scope, send)
            await admission.shed(scope)(scope, receive, send)


# The count the running request is in: set by `LoadShedding` in the request's task (and the
# tasks it starts), unset outside an admitted request (a shed one, the lifespan).
_counted_in: ContextVar[Admission | None] = ContextVar("counted_in", default=None)


class ClientPacedFlow(FlowControl):
    """uvicorn's flow control of one connection, whose wait for its client to take the response
    leaves the count of requests in flight while it lasts."""

    async def drain(self) -> None:
        admission = _counted_in.get()
        if admission is None:
            await super().drain()
            return
        admission.in_flight -= 1
        try:
            await super().drain()
        finally:
            # Back in when writing resumes (or the connection is gone), even if its place was
            # taken meanwhile: an admitted request is never refused. The count overshoots the
            # limit by the requests resuming at once, briefly (each writes its next piece and
            # waits again, or its client reads and it is work like any other), and new requests
            # are shed until it is back under.
            admission.in_flight += 1
