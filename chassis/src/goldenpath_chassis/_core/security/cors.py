"""CORS (SEC-5): an explicit list of browser origins that may call this API with credentials.

Starlette's `CORSMiddleware` (pure ASGI) does the protocol; this module decides the policy.
Nothing is allowed unless `CORS_ALLOW_ORIGINS` lists it: no wildcard, because a wildcard with
credentials would let any site act as the signed-in user (browsers refuse the combination
anyway, and reflecting the Origin instead is the classic mistake). Origins listed here are
also trusted by the CSRF check: they may already read responses with credentials.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
