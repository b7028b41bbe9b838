"""Wire the security concerns into the app: middleware at creation, resources in the lifespan.

Request path, outermost first (see `api.py`):

    request layer (request ID, metrics, span, access log, security headers, header limit,
    unhandled errors) -> per-IP rate limit -> CORS -> body size limit -> authentication before
    the body -> routing -> authentication, per-principal rate limit, scopes (route dependencies)

Security headers are added by the request layer to every response, even a 500. The per-IP
limit runs first, so that CORS preflights (which CORS answers without calling what is inside
it) are counted like any request, before the body is read and before any credential is
checked; its refusals carry the CORS headers CORS would have added (`cors.CorsHeaders`). CORS
sits outside everything else, so that a browser can read a 401, a 413 or the per-principal
429. A protected route's caller is authenticated on the first read of its body, so an
anonymous body is never read (`before_body.py`).
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI
from redis.asyncio import Redis
from starlette.middleware.cors import CORSMiddleware

from ..logging import get_logger
from ..settings import ChassisSettings
from ..static import STATIC_PREFIX
from .api_keys import ApiKeyStore, ApiKeyVerifier
from .authentication import Authenticator
from .before_body import (
    AuthenticateBeforeBodyMiddleware,
    BodyGuard,
    RefusedBeforeBodyError,
    refused_before_body,
)
from .body_limit import BodyLimitMiddleware
from .client_ip import ClientIpResolver
from .cors import CorsHeaders, cors_options
from .csrf import CsrfProtection
from .dev_key_source import DevelopmentKeySourceOnFirstUse
from .dev_keys import (
    DEVELOPMENT_ALGORITHM,
    DEVELOPMENT_KEY_DIR,
    development_audience,
    development_issuer,
    load_or_create_development_key,
)
from .headers import SecurityHeaders, default_headers, docs_csp
from .jwt import JwksKeySource, JwtVerifier, KeySource, StaticKeySource
from .rate_limit import IpRateLimitMiddleware, RateLimiter
from .revocation import SessionRevocations
from .scopes import ensure_access_declared
from .session import SessionCodec

_log = get_logger(__name__)

# Probes must never be throttled: a rate-limited liveness probe restarts a healthy pod.
RATE_LIMIT_EXEMPT_PREFIXES = ("/health/",)


@dataclass(frozen=True, kw_only=True, eq=False)
class RequestGuards:
    """What the request guards and authentication share, built with the app."""

    rate_limiter: RateLimiter | None
    client_ip: ClientIpResolver
    sessions: SessionCodec
    revocations: SessionRevocations
    csrf: CsrfProtection
    before_body: BodyGuard

    @classmethod
    def build(cls, settings: ChassisSettings) -> RequestGuards:
        limits = settings.rate_limits
        limiter = (
            RateLimiter(
                per_ip=limits.per_ip,
                per_principal=limits.per_principal,
                on_storage_error=limits.on_storage_error,
                cooldown_seconds=limits.storage_retry_seconds,
                namespace=f"{settings.service_name}:ratelimit",
            )
            if limits.enabled
            else None
        )
        secret = settings.sessions.secret.get_secret_value()
        previous = settings.sessions.secret_previous
        rotated = None if previous is None else previous.get_secret_value()
        return cls(
            rate_limiter=limiter,
            client_ip=ClientIpResolver(
                settings.proxies.proxies, header=settings.proxies.proxy_header
            ),
            sessions=SessionCodec(
                secret, previous=rotated, max_age_seconds=settings.sessions.max_age_seconds
            ),
            revocations=SessionRevocations(
                namespace=settings.service_name,
                session_max_age_seconds=settings.sessions.max_age_seconds,
            ),
            csrf=CsrfProtection(
                secret, previous=rotated, trusted_origins=settings.cors.allow_origins
            ),
            before_body=BodyGuard(),
        )


def add_request_guards(app: FastAPI, settings: ChassisSettings, guards: RequestGuards) -> None:
    """The per-IP rate limit, CORS, the body size limit and authentication before the body
    (add before the error handler)."""
    # Starlette wraps in reverse order of addition: the last added runs first (outermost).
    app.add_middleware(AuthenticateBeforeBodyMiddleware, guard=guards.before_body)
    app.add_exception_handler(RefusedBeforeBodyError, refused_before_body)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.request_limits.max_body_bytes)
    origins = settings.cors.allow_origins
    if origins:
        app.add_middleware(CORSMiddleware, **cors_options(origins))
    if guards.rate_limiter is not None:
        app.add_middleware(
            IpRateLimitMiddleware,
            limiter=guards.rate_limiter,
            client_ip=guards.client_ip,
            exempt_prefixes=RATE_LIMIT_EXEMPT_PREFIXES,
            cors=CorsHeaders(origins) if origins else None,
        )


def security_headers(app: FastAPI, settings: ChassisSettings) -> SecurityHeaders:
    """The security headers of every response, for the request layer (`request_context.py`)."""
    overrides = {STATIC_PREFIX: {"cross-origin-resource-policy": "cross-origin"}}
    if app.openapi_url is not None:
        overrides["/docs"] = {"content-security-policy": docs_csp(settings.static.base_url)}
    return SecurityHeaders(
        headers=default_headers(hsts_seconds=settings.headers.hsts_seconds),
        path_overrides=overrides,
    )


@asynccontextmanager
async def _key_source(
    settings: ChassisSettings,
    tls: ssl.SSLContext | None = None,
    *,
    development_key_on_first_use: bool = False,
) -> AsyncIterator[KeySource]:
    if settings.jwt.jwks_url is not None:
        # Identity providers answer JWKS quickly or not at all: short timeouts, no redirects.
        # The TLS context is the outbound client's, when there is one: its CA bundle is loaded.
        async with httpx.AsyncClient(
            timeout=3.0, follow_redirects=False, verify=tls if tls is not None else True
        ) as client:
            yield JwksKeySource(
                settings.jwt.jwks_url,
                client=client,
                cache_seconds=settings.jwt.jwks_cache_seconds,
                min_refresh_seconds=settings.jwt.jwks_min_refresh_seconds,
            )
    elif settings.jwt.public_key is not None:
        yield StaticKeySource(settings.jwt.public_key, algorithms=settings.jwt.algorithms)
    elif development_key_on_first_use:
        yield DevelopmentKeySourceOnFirstUse()
    else:
        # Development and tests only: production refuses to start without a key source.
        key = load_or_create_development_key()
        _log.warning("development_signing_key", directory=str(DEVELOPMENT_KEY_DIR))
        yield StaticKeySource(key.public_pem, algorithms=(DEVELOPMENT_ALGORITHM,))


@asynccontextmanager
async def open_authenticator(
    app: FastAPI,
    settings: ChassisSettings,
    guards: RequestGuards,
    *,
    redis: Redis | None,
    tls: ssl.SSLContext | None,
    api_key_store: ApiKeyStore | None,
    development_key_on_first_use: bool = False,
) -> AsyncIterator[Authenticator]:
    """Open what authentication and rate limiting need; refuse undeclared routes.

    `development_key_on_first_use`: without a configured key, read the development key when a
    token first needs it rather than now (the worker's listener: dev_key_source.py)."""
    ensure_access_declared(app)
    if guards.rate_limiter is not None and redis is not None:
        guards.rate_limiter.use_redis(redis)
    if redis is not None:
        guards.revocations.use_redis(redis)
    async with AsyncExitStack() as stack:
        keys = await stack.enter_async_context(
            _key_source(settings, tls, development_key_on_first_use=development_key_on_first_use)
        )
        verifier = JwtVerifier(
            keys,
            issuer=settings.jwt.issuer or development_issuer(settings.service_name),
            audience=settings.jwt.audience or development_audience(settings.service_name),
            algorithms=settings.jwt.algorithms,
            leeway_seconds=settings.jwt.leeway_seconds,
            tenant_claim=settings.jwt.tenant_claim,
            token_types=settings.jwt.token_types,
        )
        api_keys = (
            ApiKeyVerifier(api_key_store, cache_seconds=settings.api_keys.cache_seconds)
            if api_key_store is not None
            else None
        )
        authenticator = Authenticator(
            jwt=verifier,
            api_keys=api_keys,
            sessions=guards.sessions,
            revocations=guards.revocations,
            csrf=guards.csrf,
            limiter=guards.rate_limiter,
        )
        guards.before_body.open(app, authenticator)
        try:
            yield authenticator
        finally:
            guards.before_body.close()
            guards.revocations.say_rest()
            if guards.rate_limiter is not None:
                guards.rate_limiter.say_rest()
