"""An httpx transport over an httpcore connection pool the chassis builds itself.

httpx's own transport builds its pool without a way to name the network backend, and the
client for user URLs needs its pinning backend there (`user_urls.py`). This is the small part
of that transport the chassis needs, on public names only: httpx's request becomes httpcore's
(its extensions carry the timeouts), the response's body streams from the pool, closing it
returns the connection, and httpcore's errors become httpx's, which the retries and breakers
(`http_client.py`) decide on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import httpcore
import httpx

# httpcore's error -> httpx's, subclasses before the classes they derive from: the first match
# is the most specific. Not here: httpcore.ConnectionNotAvailable, the pool's signal to itself
# to try another connection, which it handles before returning.
HTTPCORE_TO_HTTPX: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


def httpx_error_for(exc: Exception) -> type[httpx.TransportError] | None:
    """httpx's class for httpcore's error `exc`; None for any other exception, which goes on
    as it is (the guard's `UnsafeUrlError` among them)."""
    for httpcore_error, httpx_error in HTTPCORE_TO_HTTPX:
        if isinstance(exc, httpcore_error):
            return httpx_error
    return None


@contextmanager
def httpx_errors() -> Iterator[None]:
    """httpcore's errors raised as httpx's, with the same message and httpcore's as the cause."""
    try:
        yield
    except Exception as exc:
        httpx_error = httpx_error_for(exc)
        if httpx_error is None:
            raise
        raise httpx_error(str(exc)) from exc


class PooledBody(httpx.AsyncByteStream):
    """A response's body, read from the pool's connection; closing it releases the connection."""

    def __init__(self, response: httpcore.Response) -> None:
        self.response = response

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with httpx_errors():
            async for chunk in self.response.aiter_stream():
                yield chunk

    async def aclose(self) -> None:
        with httpx_errors():
            await self.response.aclose()


class PoolTransport(httpx.AsyncBaseTransport):
    """Sends httpx's requests through `pool`, which it closes with itself."""

    def __init__(self, pool: httpcore.AsyncConnectionPool) -> None:
        self.pool = pool

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not isinstance(request.stream, httpx.AsyncByteStream):
            raise TypeError("An async transport sends an async request body.")
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            # The client's timeouts ride here ({"timeout": {"connect": ..., "read": ...}}).
            extensions=request.extensions,
        )
        with httpx_errors():
            core_response = await self.pool.handle_async_request(core_request)
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=PooledBody(core_response),
            extensions=core_response.extensions,
        )

    async def aclose(self) -> None:
        with httpx_errors():
            await self.pool.aclose()
