"""uvicorn's httptools protocol with a request-head deadline and size (`head_deadline.py`) and a
minimum body rate (`body_rate.py`); imported only when httptools is installed."""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .head_deadline import HeadDeadlineProtocol


class HttpToolsWithHeadDeadline(HeadDeadlineProtocol, HttpToolsProtocol):
    """The parser's own callbacks: a message begins at its first byte, its head is complete
    before any of its body is read, and its body is handed over as it arrives."""

    _in_body: bool
    # Bytes read in a row without the parser completing a head or handing over a body byte: a
    # head, or a chunked body's framing and trailers. The read in which it last did is not
    # counted, so what the parser holds is at most `head_max_bytes` and one read.
    _unframed_bytes: int
    _progressed: bool
    # The current request asked to wait for `100 Continue` and has sent none of its body.
    _awaiting_continue: bool

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._in_body = False
        self._unframed_bytes = 0
        self._progressed = False
        self._awaiting_continue = False
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self._progressed = False
        super().data_received(data)
        if self._progressed:
            self._unframed_bytes = 0
        else:
            self._unframed_bytes += len(data)
            if self._unframed_bytes > self.head_max_bytes and not self.transport.is_closing():
                self.transport.close()
                self.large_heads.add()
        # After the whole batch is parsed, so a request without a body (complete in the same
        # batch as its head) never starts the timer.
        if self._in_body and not self._body.running and not self.transport.is_closing():
            self._body.start()

    def on_message_begin(self) -> None:
        self._deadline.head_started()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._deadline.head_complete()
        self._in_body = True
        self._progressed = True
        self._awaiting_continue = self.expect_100_continue
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._body.received(len(body))
        self._progressed = True
        self._awaiting_continue = False
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_body = False
        self._progressed = True
        self._awaiting_continue = False
        self._body.stop()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        # Not a pipelined request's flag: those wait behind the one answered.
        if self._awaiting_continue and not self.pipeline and not self.transport.is_closing():
            self.transport.close()  # its next bytes, a body or a request (`head_deadline.py`)
        super().on_response_complete()

    def _server_holds_body_back(self) -> bool:
        # uvicorn sends `100 Continue` at the handler's first read, and forgets it once a
        # response starts.
        waiting_for_continue = self.cycle is not None and self.cycle.waiting_for_100_continue
        return self.flow.read_paused or waiting_for_continue
