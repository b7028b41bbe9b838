"""A deadline for a connection's request head (SEC-1, CWE-400: slow clients).

uvicorn times a connection out only between requests: its keep-alive timer starts once a
response is sent, and any byte received cancels it. A connection that never sends anything, or
that sends a request head a byte every few seconds (slowloris), is held forever: its socket,
its buffers, its place in the server's connections. uvicorn has no setting for this (its issue
157, "--timeout-request-start", was never done).

The protocol uvicorn would pick (httptools, or h11 without it) gets two timers per connection:
- idle: a new connection that sends no byte within the keep-alive timeout is closed, as uvicorn
  closes one idle between requests;
- head: a request head must be complete within `REQUEST_HEADER_TIMEOUT_SECONDS`, counted from
  the connection's start for its first request and from the first byte of each next one; it is
  cancelled once the head is parsed, so a slow handler or a long response is not timed by it.
A third, for a body, is a minimum data rate (`body_rate.py`), started once a head is complete
and its body is not, and stopped at the body's end. A fourth, for a response, runs while the
transport has paused writing: a client that takes none of its response for
`RESPONSE_SEND_TIMEOUT_SECONDS` is reset (`send_timeout.py`).

A head has a size too, on the wire. httptools sets none, and gathers a header's value (and the
target, and a chunked body's trailers) by appending each read to what it holds, which costs the
event loop the square of their size: one client sending a single endless header or trailer at
tens of megabits blocked every request of the process for seconds and grew it by hundreds of
megabytes. Bytes read with no part of a head completed and no body byte among them, past
`head_max_bytes` (far above the 431 of the request layer, which counts names and values once the
head is whole), close the connection (`request_heads_too_large`). h11 bounds its own (an
incomplete head past 16 KiB is answered 400).

And a request answered while its client still waits for `100 Continue` to send its body (an
early 401, 429 or 413) leaves a connection whose next bytes may be that body or the next
request: the server, which counts them as the body, would read a request as a body, and what
follows it as a request (a desync, where a proxy shares the connection). uvicorn keeps it; the
subclasses close it once the answer is sent, as Go's server does.

Either closes the connection without a response, like uvicorn's own keep-alive timeout, nginx's
`client_header_timeout` and Go's `ReadHeaderTimeout`: a 408 would go to a client that is not
keeping up (or never asked anything), and a client that reuses a connection the server just
closed retries on a fresh one. The closes for a slow head are said in the log at most once a
minute (`request_heads_timed_out`), so an attack is a line, not a line per connection, and the
rest at shutdown (`throttled_line.py`). Each close of the four kinds (a slow or large head, a
slow body, a response unread) is counted in `http_server_connections_closed_total` too, by
`reason`, for an alert.

What a request costs: one timer started and one cancelled (a keep-alive connection's next
request), nothing on the first request, whose timer started with the connection; and one more
for a body that did not arrive with its head. The response's timer costs nothing while the
kernel takes what is written, as it takes any response that fits its socket buffer.
"""

from __future__ import annotations

import asyncio
import importlib.util
from typing import ClassVar, cast

import h11
from h11._connection import DEFAULT_MAX_INCOMPLETE_EVENT_SIZE  # uvicorn's default too
from prometheus_client import Counter
from uvicorn.protocols.http.flow_control import FlowControl
from uvicorn.protocols.http.h11_impl import H11Protocol

from .admission import ClientPacedFlow
from .body_rate import BodyRate
from .h11_framing import FramedOnceConnection
from .logging import get_logger
from .send_timeout import SendTimeout
from .throttled_line import ThrottledLine

_log = get_logger(__name__)

# The `reason` label of `http_server_connections_closed_total`: why a connection was closed.
CLOSE_REASONS = ("head_timeout", "head_too_large", "body_too_slow", "response_unread")


class HeadDeadline:
    """One connection's two timers: idle until its first byte, and its current head's deadline."""

    __slots__ = ("_head", "_head_seconds", "_idle", "_loop", "_slow_heads", "_transport")

    def __init__(
        self,
        transport: asyncio.BaseTransport,
        *,
        head_seconds: float,
        idle_seconds: float,
        slow_heads: ThrottledLine,
    ) -> None:
        self._loop = asyncio.get_running_loop()
        self._transport = transport
        self._head_seconds = head_seconds
        self._slow_heads = slow_heads
        self._idle: asyncio.TimerHandle | None = self._loop.call_later(idle_seconds, self._close)
        # The first request's head is timed from the connection's start, not from its first byte.
        self._head: asyncio.TimerHandle | None = self._loop.call_later(
            head_seconds, self._close_slow_head
        )

    def head_started(self) -> None:
        """A request's first byte arrived."""
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None
        if self._head is None:  # a keep-alive connection's next request
            self._head = self._loop.call_later(self._head_seconds, self._close_slow_head)

    def head_complete(self) -> None:
        """A request's head is parsed: neither timer has anything left to time. The idle one
        too: h11 says nothing of a head that arrives whole in one read, so `head_started` may
        never have cancelled it."""
        if self._head is not None:
            self._head.cancel()
            self._head = None
        if self._idle is not None:
            self._idle.cancel()
            self._idle = None

    def stop(self) -> None:
        """The connection is gone: its timers must not keep it (and its protocol) alive."""
        self.head_complete()

    def _close(self) -> None:
        self._transport.close()

    def _close_slow_head(self) -> None:
        self._head = None
        if self._transport.is_closing():
            return
        self._transport.close()
        self._slow_heads.add()


class HeadDeadlineProtocol(asyncio.Protocol):
    """Starts and stops a connection's `HeadDeadline`, `BodyRate` and `SendTimeout`; a subclass
    says when a head starts, when it is complete, when a body is under way and what of it
    arrived, in its parser's terms (the transport says when writing pauses and resumes). Put
    before uvicorn's protocol in the bases. Its flow control is `ClientPacedFlow`: a request
    waiting on its client is not counted by the load shedding (`admission.py`)."""

    head_timeout_seconds: ClassVar[float]
    idle_timeout_seconds: ClassVar[float]
    slow_heads: ClassVar[ThrottledLine]
    head_max_bytes: ClassVar[int]
    large_heads: ClassVar[ThrottledLine]
    body_min_bytes_per_second: ClassVar[float]
    body_grace_seconds: ClassVar[float]
    slow_bodies: ClassVar[ThrottledLine]
    send_timeout_seconds: ClassVar[float]
    unread_responses: ClassVar[ThrottledLine]

    _deadline: HeadDeadline
    _body: BodyRate
    _send: SendTimeout
    flow: FlowControl

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # In place of uvicorn's, before any request of the connection is given it.
        self.flow = ClientPacedFlow(cast("asyncio.Transport", transport))
        self._deadline = HeadDeadline(
            transport,
            head_seconds=self.head_timeout_seconds,
            idle_seconds=self.idle_timeout_seconds,
            slow_heads=self.slow_heads,
        )
        self._body = BodyRate(
            transport,
            min_bytes_per_second=self.body_min_bytes_per_second,
            grace_seconds=self.body_grace_seconds,
            slow_bodies=self.slow_bodies,
            held_back=self._server_holds_body_back,
        )
        self._send = SendTimeout(
            cast("asyncio.WriteTransport", transport),
            seconds=self.send_timeout_seconds,
            unread=self.unread_responses,
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._deadline.stop()
        self._body.stop()
        self._send.stop()
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        super().pause_writing()
        self._send.paused()

    def resume_writing(self) -> None:
        super().resume_writing()
        self._send.resumed()

    def _server_holds_body_back(self) -> bool:
        """Whether the server, not the client, is why no body arrives now."""
        raise NotImplementedError


class H11WithHeadDeadline(HeadDeadlineProtocol, H11Protocol):
    """h11 hands over a request only once its head is parsed: after each batch of events, a
    peer still IDLE with bytes buffered is in the middle of a head, and one in SEND_BODY in
    the middle of a body. Its connection refuses a request framed twice, as httptools does
    (`h11_framing.py`)."""

    # The current request asked to wait for `100 Continue` and had sent none of its body after
    # the last batch (h11 forgets it once any answer is sent).
    _awaiting_continue: bool

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._awaiting_continue = False
        # uvicorn's connection, with its limits, refusing a request framed twice (`h11_framing`);
        # nothing is read before this.
        incomplete = self.config.h11_max_incomplete_event_size
        self.conn = FramedOnceConnection(
            h11.SERVER,
            DEFAULT_MAX_INCOMPLETE_EVENT_SIZE if incomplete is None else incomplete,
        )
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        # The bytes that complete a head are not counted for its body: h11 does not say where
        # the head ended, and the rate errs towards the server.
        if self.conn.their_state is h11.SEND_BODY:
            self._body.received(len(data))
        super().data_received(data)

    def handle_events(self) -> None:
        super().handle_events()
        state = self.conn.their_state
        if state is h11.IDLE:
            if self.conn.trailing_data[0]:
                self._deadline.head_started()
        else:
            self._deadline.head_complete()
        if state is not h11.SEND_BODY:
            self._body.stop()
        elif not self._body.running and not self.transport.is_closing():
            self._body.start()
        self._awaiting_continue = (
            state is h11.SEND_BODY and self.conn.they_are_waiting_for_100_continue
        )

    def on_response_complete(self) -> None:
        if self._awaiting_continue and not self.transport.is_closing():
            self.transport.close()  # its next bytes, a body or a request (see the module)
        super().on_response_complete()

    def _server_holds_body_back(self) -> bool:
        return self.flow.read_paused or self.conn.they_are_waiting_for_100_continue


def _protocol_uvicorn_picks() -> type[HeadDeadlineProtocol]:
    """uvicorn's "auto": httptools when it is installed (the chassis depends on it), else h11."""
    if importlib.util.find_spec("httptools") is None:
        return H11WithHeadDeadline
    # Here, not at the top: it needs httptools, and it subclasses this module's protocol.
    from .head_deadline_httptools import HttpToolsWithHeadDeadline  # noqa: PLC0415

    return HttpToolsWithHeadDeadline


def protocol_with_head_deadline(
    *,
    head_timeout_seconds: float,
    idle_timeout_seconds: float,
    head_max_bytes: int,
    body_min_bytes_per_second: float,
    body_grace_seconds: float,
    send_timeout_seconds: float,
    base: type[HeadDeadlineProtocol] | None = None,
    closed_connections: Counter | None = None,
) -> type[asyncio.Protocol]:
    """The HTTP protocol class for `uvicorn.Config(http=...)`, with these timeouts; its closes
    counted in `closed_connections` (labelled by `reason`, `CLOSE_REASONS`) when given."""
    chosen = base or _protocol_uvicorn_picks()
    counted = _series_by_reason(closed_connections)
    return type(
        chosen.__name__,
        (chosen,),
        {
            "head_timeout_seconds": head_timeout_seconds,
            "idle_timeout_seconds": idle_timeout_seconds,
            "slow_heads": ThrottledLine(
                _log,
                "request_heads_timed_out",
                count_name="connections",
                counter=counted["head_timeout"],
                header_timeout_seconds=head_timeout_seconds,
            ),
            "head_max_bytes": head_max_bytes,
            "large_heads": ThrottledLine(
                _log,
                "request_heads_too_large",
                count_name="connections",
                counter=counted["head_too_large"],
                max_bytes=head_max_bytes,
            ),
            "body_min_bytes_per_second": body_min_bytes_per_second,
            "body_grace_seconds": body_grace_seconds,
            "slow_bodies": ThrottledLine(
                _log,
                "request_bodies_timed_out",
                count_name="connections",
                counter=counted["body_too_slow"],
                min_bytes_per_second=body_min_bytes_per_second,
                grace_seconds=body_grace_seconds,
            ),
            "send_timeout_seconds": send_timeout_seconds,
            "unread_responses": ThrottledLine(
                _log,
                "responses_unread_timed_out",
                count_name="connections",
                counter=counted["response_unread"],
                send_timeout_seconds=send_timeout_seconds,
            ),
        },
    )


def _series_by_reason(closed_connections: Counter | None) -> dict[str, Counter | None]:
    """Each reason's series, made now: exported at 0 from the start, so that an alert on its
    rate sees the first close (a series born at 1 shows no increase)."""
    return {
        reason: None if closed_connections is None else closed_connections.labels(reason)
        for reason in CLOSE_REASONS
    }


def say_unsaid_closes(protocol: object) -> None:
    """At shutdown: the slow or large heads', the slow bodies' and the readers' closes not said
    yet (`throttled_line.py`)."""
    if isinstance(protocol, type) and issubclass(protocol, HeadDeadlineProtocol):
        protocol.slow_heads.say_rest()
        protocol.large_heads.say_rest()
        protocol.slow_bodies.say_rest()
        protocol.unread_responses.say_rest()
