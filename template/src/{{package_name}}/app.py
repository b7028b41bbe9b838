"""The application factory: `create_app(settings)` wires every concern; nothing runs at import.

Resources (database engine, Redis, ...) are opened in the lifespan, in order, and closed in
reverse order on shutdown; each registers its own readiness check.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from . import __version__, models  # noqa: F401 - every table registered, so foreign keys resolve
from ._project import DESCRIPTION, PROJECT_NAME
from .api import API_VERSION, install_routes
from .api_keys.repository import ApiKeyStore
from .core import health
from .core.cache import build_cache
from .core.database import install_database_error_handlers, open_database
from .core.docs import install_docs
from .core.errors import UnhandledErrorMiddleware, install_error_handlers
from .core.header_limit import HeaderLimitMiddleware
from .core.health import HealthRegistry
from .core.http_client import load_tls_context, outbound_http
from .core.lifecycle import Lifecycle
from .core.logging import get_logger
from .core.metrics import (
    HttpServerMetrics,
    Metrics,
    RateLimitMetrics,
    metrics_endpoint,
    watch_database,
)
from .core.openapi import install_openapi
from .core.redis import redis_client
from .core.request_context import RequestContextMiddleware
from .core.resilience import CircuitBreakers
from .core.security.install import add_request_guards, add_security_headers, security_resources
from .core.security.scopes import METRICS_SCOPE, RequireScopes
from .core.settings import Settings, load_settings
from .core.static import install_static
from .core.tracing import Tracing

_log = get_logger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    tracing: Tracing = app.state.tracing
    breakers: CircuitBreakers = app.state.breakers
    if settings.app_env == "development" and settings.database_url is None:
        # Zero set-up: the embedded development database migrates itself. Everywhere else,
        # migrations are a deliberate step (`migrate` command, the Kubernetes migration Job).
        from .core.migrations import upgrade_async  # noqa: PLC0415 - Alembic only when needed

        await upgrade_async(settings)
    # In a thread, while the resources below open; awaited by the outbound clients.
    tls = asyncio.create_task(load_tls_context())
    async with AsyncExitStack() as resources:
        # First in, last out: spans from every other resource's shutdown are flushed too.
        await resources.enter_async_context(tracing.exporting())
        app.state.database = await resources.enter_async_context(
            open_database(settings, app.state.health, breakers=breakers)
        )
        tracing.instrument_engine(app.state.database.engine)
        resources.callback(watch_database(app.state.metrics, app.state.database))
        app.state.redis = await resources.enter_async_context(
            redis_client(settings, app.state.health)
        )
        if app.state.redis is not None:
            tracing.instrument_redis(app.state.redis)
        app.state.cache = build_cache(
            settings, app.state.redis, breakers=breakers, metrics=app.state.metrics
        )
        app.state.tls_context = await tls
        app.state.http = await resources.enter_async_context(
            outbound_http(
                settings,
                breakers=breakers,
                metrics=app.state.metrics,
                tracing=tracing,
                tls=app.state.tls_context,
            )
        )
        await resources.enter_async_context(
            security_resources(app, settings, api_key_store=ApiKeyStore(app.state.database))
        )
        _log.info(
            "startup_complete",
            app_env=settings.app_env,
            version=__version__,
            checks=app.state.health.names,
            tracing=tracing.enabled,
            cache=app.state.cache.backend.kind,
        )
        yield
    _log.info("resources_closed")


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    # Starlette wraps in reverse order of addition: the last added runs first (outermost).
    # A request meets: request context, security headers, the header limit, unhandled errors,
    # CORS, the per-IP rate limit, the body size limit, then routing (core/security/install.py).
    add_request_guards(app, settings)
    if app.state.rate_limiter is not None:
        app.state.rate_limiter.observers.append(RateLimitMetrics(app.state.metrics))
    app.add_middleware(UnhandledErrorMiddleware)
    # Inside the security headers and the request context, so a 431 carries both and is logged.
    app.add_middleware(HeaderLimitMiddleware, max_bytes=settings.request_max_header_bytes)
    add_security_headers(app, settings)
    app.add_middleware(RequestContextMiddleware, observers=[HttpServerMetrics(app.state.metrics)])


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    tracing = Tracing(settings, service_version=__version__)
    app = FastAPI(
        title=PROJECT_NAME,
        description=DESCRIPTION,
        version=API_VERSION,
        lifespan=lifespan,
        # Operation IDs are the route functions' names (`get_item`): stable, and readable in
        # generated clients and in OpenAPI links.
        generate_unique_id_function=lambda route: route.name,
        # /docs is served by core/docs.py from fingerprinted local assets, without inline script
        # (a strict CSP, SEC-5).
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
        telemetry=tracing.fastapi_telemetry(),
    )
    app.state.settings = settings
    app.state.health = HealthRegistry()
    app.state.lifecycle = Lifecycle()
    app.state.tracing = tracing
    app.state.metrics = Metrics(
        service_name=settings.otel_service_name, service_version=__version__
    )
    app.state.breakers = CircuitBreakers(
        threshold=settings.breaker_failure_threshold,
        reset_seconds=settings.breaker_reset_seconds,
        metrics=app.state.metrics,
    )
    app.state.health.register_breakers(app.state.breakers.states)

    install_error_handlers(app)
    install_database_error_handlers(app)
    install_openapi(app)
    _install_middleware(app, settings)
    app.include_router(health.router)
    install_routes(app)
    # After the API: routing tries routes in order, and these are rarely requested.
    # /metrics shares the API's port, so it is protected like the API: Prometheus scrapes it
    # with an API key holding the `metrics:read` scope (docs/observability.md).
    app.add_api_route(
        "/metrics",
        metrics_endpoint,
        methods=["GET"],
        include_in_schema=False,
        dependencies=[RequireScopes(METRICS_SCOPE)],
    )
    assets = install_static(app, settings)
    install_docs(app, assets)
    return app
