"""CORS (SEC-5): an explicit list of browser origins that may call this API with credentials.

Starlette's `CORSMiddleware` (pure ASGI) does the protocol; this module decides the policy.
Nothing is allowed unless `CORS_ALLOW_ORIGINS` lists it: no wildcard, because a wildcard with
credentials would let any site act as the signed-in user (browsers refuse the combination
anyway, and reflecting the Origin instead is the classic mistake). Origins listed here are
also trusted by the CSRF check: they may already read responses with credentials.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from starlette.datastructures import Headers
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

ALLOWED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
ALLOWED_HEADERS = (
    "Authorization",
    "Content-Type",
    "If-Match",
    "If-None-Match",
    "X-API-Key",
    "X-CSRF-Token",
    "X-Request-ID",
)
EXPOSED_HEADERS = (
    "ETag",
    "Location",
    "Retry-After",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
    "X-Request-ID",
)
PREFLIGHT_MAX_AGE_SECONDS = 600


def cors_options(origins: Sequence[str]) -> dict[str, Any]:
    """Keyword arguments for `CORSMiddleware`."""
    if "*" in origins:
        raise ValueError("CORS origins must be listed explicitly")
    return {
        "allow_origins": list(origins),
        "allow_credentials": True,
        "allow_methods": list(ALLOWED_METHODS),
        "allow_headers": list(ALLOWED_HEADERS),
        "expose_headers": list(EXPOSED_HEADERS),
        "max_age": PREFLIGHT_MAX_AGE_SECONDS,
    }


async def _unreachable(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("CorsHeaders only decorates responses made before CORS")


class CorsHeaders:
    """The CORS headers of a response made outside `CORSMiddleware`: the per-IP limiter runs
    before it, so that preflights (which CORS answers itself) are counted, and its refusals
    must still be readable by a page on an allowed origin. Starlette's own middleware, built
    with the same options, adds them: the same headers as on any other response."""

    def __init__(self, origins: Sequence[str]) -> None:
        self._cors = CORSMiddleware(_unreachable, **cors_options(origins))

    def send(self, scope: Scope, send: Send) -> Send:
        """`send`, adding the CORS headers the request's `Origin` calls for to the response."""
        return functools.partial(self._cors.send, send=send, request_headers=Headers(scope=scope))
