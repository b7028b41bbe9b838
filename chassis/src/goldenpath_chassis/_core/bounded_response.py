"""Response bodies read whole, up to a bound: what another service sends back is its to size.

httpx reads a response's whole body into memory unless asked to stream it, however long it is,
and decompresses it as it reads (a few kilobytes of gzip can expand to gigabytes). A receiver,
an identity provider or a partner that answers without end would fill the process's memory
before any timeout ends the call. `read_bounded` reads a streamed response as httpx would,
counting the decoded bytes, and stops at the bound.
"""

from __future__ import annotations

import httpx


class ResponseTooLargeError(Exception):
    """The response's body is longer than the caller's bound; none of it is kept."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"the response's body is over {max_bytes} bytes")
        self.max_bytes = max_bytes


async def read_bounded(response: httpx.Response, max_bytes: int) -> None:
    """Read a streamed response's body into it (`response.content` afterwards), or raise
    `ResponseTooLargeError` past `max_bytes` decoded bytes; the response is closed either way."""
    try:
        declared = response.headers.get("content-length", "")
        # A HEAD's or a 304's length is the resource's: no body follows.
        has_body = response.request.method != "HEAD" and response.status_code != 304
        if has_body and declared.isdigit() and int(declared) > max_bytes:
            raise ResponseTooLargeError(max_bytes)  # refused before a byte of it is read
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise ResponseTooLargeError(max_bytes)
            chunks.append(chunk)
    finally:
        await response.aclose()
    # What `Response.aread` stores: `content`, `text` and `json()` read it from here.
    response._content = b"".join(chunks)
