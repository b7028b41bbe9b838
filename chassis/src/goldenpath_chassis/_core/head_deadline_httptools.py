"""uvicorn's httptools protocol with a request-head deadline (`head_deadline.py`); imported only
when httptools is installed."""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .head_deadline import HeadDeadlineProtocol


class HttpToolsWithHeadDeadline(HeadDeadlineProtocol, HttpToolsProtocol):
    """The parser's own callbacks: a message begins at its first byte, and its head is complete
    before any of its body is read."""

    def on_message_begin(self) -> None:
        self._deadline.head_started()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._deadline.head_complete()
        super().on_headers_complete()
