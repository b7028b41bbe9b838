"""Wire the security concerns into the app: middleware at creation, resources in the lifespan.

Request path, outermost first (see `app.py`):

    request context -> security headers -> unhandled errors -> CORS -> per-IP rate limit
    -> body size limit -> routing -> authentication, per-principal rate limit, scopes (route
    dependencies)

Security headers sit outside the error handler so that even a 500 carries them; CORS sits
outside the limiters so that a browser can read a 401 or 429; the per-IP limit runs before the
body is read and before any credential is checked.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from ..._project import PROJECT_SLUG
from ..logging import get_logger
from ..settings import Settings
from ..static import STATIC_PREFIX
from .api_keys import ApiKeyStore, ApiKeyVerifier
from .authentication import Authenticator
from .body_limit import BodyLimitMiddleware
from .client_ip import ClientIpResolver
from .cors import cors_options
from .csrf import CsrfProtection
from .dev_keys import (
    DEVELOPMENT_ALGORITHM,
    DEVELOPMENT_AUDIENCE,
    DEVELOPMENT_ISSUER,
    DEVELOPMENT_KEY_DIR,
    load_or_create_development_key,
)
from .headers import SecurityHeadersMiddleware, default_headers, docs_csp
from .jwt import JwksKeySource, JwtVerifier, KeySource, StaticKeySource
from .rate_limit import IpRateLimitMiddleware, RateLimiter
from .scopes import ensure_access_declared
from .session import SessionCodec

_log = get_logger(__name__)

# Probes must never be throttled: a rate-limited liveness probe restarts a healthy pod.
RATE_LIMIT_EXEMPT_PREFIXES = ("/health/",)


def add_request_guards(app: FastAPI, settings: Settings) -> None:
    """CORS, the per-IP rate limit and the body size limit (add before the error handler)."""
    limiter = (
        RateLimiter(
            per_ip=settings.rate_limit_per_ip,
            per_principal=settings.rate_limit_per_principal,
            on_storage_error=settings.rate_limit_on_storage_error,
            cooldown_seconds=settings.rate_limit_storage_retry_seconds,
            namespace=f"{PROJECT_SLUG}:ratelimit",
        )
        if settings.rate_limit_enabled
        else None
    )
    app.state.rate_limiter = limiter
    app.state.client_ip = ClientIpResolver(
        settings.trusted_proxies, header=settings.trusted_proxy_header
    )
    secret = settings.effective_session_secret
    app.state.sessions = SessionCodec(secret, max_age_seconds=settings.auth_session_max_age_seconds)
    app.state.csrf = CsrfProtection(secret, trusted_origins=settings.cors_allow_origins)

    # Starlette wraps in reverse order of addition: the last added runs first (outermost).
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.request_max_body_bytes)
    if limiter is not None:
        app.add_middleware(
            IpRateLimitMiddleware,
            limiter=limiter,
            client_ip=app.state.client_ip,
            exempt_prefixes=RATE_LIMIT_EXEMPT_PREFIXES,
        )
    if settings.cors_allow_origins:
        app.add_middleware(CORSMiddleware, **cors_options(settings.cors_allow_origins))


def add_security_headers(app: FastAPI, settings: Settings) -> None:
    """Security headers on every response (add after the error handler, so it wraps it)."""
    overrides = {STATIC_PREFIX: {"cross-origin-resource-policy": "cross-origin"}}
    if app.openapi_url is not None:
        overrides["/docs"] = {"content-security-policy": docs_csp(settings.cdn_base_url)}
    app.add_middleware(
        SecurityHeadersMiddleware,
        headers=default_headers(hsts_seconds=settings.security_hsts_seconds),
        path_overrides=overrides,
    )


@asynccontextmanager
async def _key_source(
    settings: Settings, tls: ssl.SSLContext | None = None
) -> AsyncIterator[KeySource]:
    if settings.auth_jwt_jwks_url is not None:
        # Identity providers answer JWKS quickly or not at all: short timeouts, no redirects.
        # The TLS context is the outbound client's, when there is one: its CA bundle is loaded.
        async with httpx.AsyncClient(
            timeout=3.0, follow_redirects=False, verify=tls if tls is not None else True
        ) as client:
            yield JwksKeySource(
                settings.auth_jwt_jwks_url,
                client=client,
                cache_seconds=settings.auth_jwt_jwks_cache_seconds,
                min_refresh_seconds=settings.auth_jwt_jwks_min_refresh_seconds,
            )
    elif settings.auth_jwt_public_key is not None:
        yield StaticKeySource(settings.auth_jwt_public_key, algorithms=settings.auth_jwt_algorithms)
    else:
        # Development and tests only: production refuses to start without a key source.
        key = load_or_create_development_key()
        _log.warning("development_signing_key", directory=str(DEVELOPMENT_KEY_DIR))
        yield StaticKeySource(key.public_pem, algorithms=(DEVELOPMENT_ALGORITHM,))


@asynccontextmanager
async def security_resources(
    app: FastAPI, settings: Settings, *, api_key_store: ApiKeyStore | None
) -> AsyncIterator[Authenticator]:
    """Open what authentication and rate limiting need; refuse undeclared routes."""
    ensure_access_declared(app)
    limiter: RateLimiter | None = app.state.rate_limiter
    redis = getattr(app.state, "redis", None)
    if limiter is not None and redis is not None:
        limiter.use_redis(redis)
    async with AsyncExitStack() as stack:
        tls: ssl.SSLContext | None = getattr(app.state, "tls_context", None)
        keys = await stack.enter_async_context(_key_source(settings, tls))
        verifier = JwtVerifier(
            keys,
            issuer=settings.auth_jwt_issuer or DEVELOPMENT_ISSUER,
            audience=settings.auth_jwt_audience or DEVELOPMENT_AUDIENCE,
            algorithms=settings.auth_jwt_algorithms,
            leeway_seconds=settings.auth_jwt_leeway_seconds,
        )
        api_keys = (
            ApiKeyVerifier(api_key_store, cache_seconds=settings.auth_api_key_cache_seconds)
            if api_key_store is not None
            else None
        )
        authenticator = Authenticator(
            jwt=verifier,
            api_keys=api_keys,
            sessions=app.state.sessions,
            csrf=app.state.csrf,
            limiter=limiter,
        )
        app.state.authenticator = authenticator
        yield authenticator
