"""The API of a chassis service: `build_api(service, settings)` composes every standard.

Nothing runs at import. The app is built in a stated order: instruments and request guards
first (the middleware needs them), then error handlers, middleware, the domains' routes, the
metrics endpoint, static assets and docs. The lifespan opens the resources (resources.py) and
the authenticator, and closes them in reverse order on shutdown.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI
from fastapi.routing import RouteContext, iter_route_contexts
from starlette.routing import compile_path

from .admission import Admission, LoadShedding
from .attached_resources import attached_resources
from .database import install_database_error_handlers
from .docs import install_docs
from .domain import Domain
from .errors import install_error_handlers
from .logging import get_logger
from .metrics import HttpServerMetrics, RateLimitMetrics
from .metrics_route import add_metrics_route
from .openapi import install_openapi
from .request_context import RequestLayer
from .resources import Instruments, open_resources
from .security.cors import CorsHeaders
from .security.install import (
    RequestGuards,
    add_request_guards,
    security_headers,
)
from .service import Service
from .settings import ChassisSettings
from .state import ChassisState, chassis_of
from .static import install_static

_log = get_logger(__name__)


def _lifespan(
    service: Service,
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        chassis = chassis_of(app)
        settings = chassis.settings
        if settings.uses_embedded_database:
            # Zero set-up: the embedded development database migrates itself. Everywhere else,
            # migrations are a deliberate step (`migrate` command, the Kubernetes migration Job).
            from .migrations import upgrade_async  # noqa: PLC0415 - Alembic only when needed

            await upgrade_async(settings, location=service.migrations)
        async with (
            open_resources(
                settings, service_version=service.version, instruments=chassis.instruments
            ) as resources,
            attached_resources(app, settings, resources),
        ):
            _log.info(
                "startup_complete",
                app_env=settings.app_env,
                version=service.version,
                checks=resources.health.names,
                tracing=resources.tracing.enabled,
                cache=resources.cache.backend.kind,
            )
            yield
        _log.info("resources_closed")

    return lifespan


def _install_middleware(app: FastAPI, chassis: ChassisState) -> None:
    # Starlette wraps in reverse order of addition: the last added runs first (outermost).
    # A request meets: the request layer (request ID, metrics, span, access log, security
    # headers, the header limit, unhandled errors, clean-ups), load shedding, the per-IP rate
    # limit, CORS, the body size limit, authentication before the body, then routing
    # (security/install.py).
    settings = chassis.settings
    metrics = chassis.instruments.metrics
    add_request_guards(app, settings, chassis.guards)
    if chassis.guards.rate_limiter is not None:
        chassis.guards.rate_limiter.observers.append(RateLimitMetrics(metrics))
    origins = settings.cors.allow_origins
    app.add_middleware(
        LoadShedding,
        admission=chassis.admission,
        cors=CorsHeaders(origins) if origins else None,
    )
    app.add_middleware(
        RequestLayer,
        routed_by=app,
        security_headers=security_headers(app, settings),
        max_header_bytes=settings.request_limits.max_header_bytes,
        max_body_bytes=settings.request_limits.max_body_bytes,
        metrics=HttpServerMetrics(metrics),
        spans=chassis.instruments.tracing.server_spans(),
        lifecycle=chassis.instruments.lifecycle,
        client_ip=chassis.guards.client_ip,
    )


def _routes(domains: Iterable[Domain]) -> Iterator[tuple[Domain, RouteContext]]:
    for domain in domains:
        for router in domain.routers:
            for route in iter_route_contexts(router.routes):
                yield domain, route


def _shadowing(own: Iterable[Domain], chassis: Iterable[Domain]) -> list[str]:
    """The service's routes that would answer a request meant for a chassis route."""
    # The chassis's paths are literal (the probes, the sessions); one with a parameter would
    # need a comparison of two patterns, and is left out.
    taken = [
        (route.methods, route.path)
        for _, route in _routes(chassis)
        if route.path and "{" not in route.path
    ]
    found = []
    for domain, route in _routes(own):
        # The path as declared, convertors included: `{n:int}` does not answer "session".
        pattern, _, _ = compile_path(str(route.path))
        for methods, path in taken:
            # No methods (a mount, a websocket) means any method.
            overlap = not route.methods or not methods or route.methods & methods
            if overlap and pattern.match(path):
                found.append(f"domain {domain.name}: {route.path} answers the chassis's {path}")
    return found


def _include_domain_routes(app: FastAPI, service: Service) -> None:
    """Every domain's routes: the service's first, then the chassis's (probes, sessions).

    Routing tries routers in order, and each router passed costs a request a match against
    each of its routes. The service's API is what is requested most, the probes least. As the
    service's routes come first, one that would answer a chassis route's path would take its
    requests: the service refuses to start instead.
    """
    domains = service.all_domains
    own = service.own_domains
    chassis = domains[: len(domains) - len(own)]
    shadowing = _shadowing(own, chassis)
    if shadowing:
        raise ValueError("routes that would hide the chassis's: " + "; ".join(shadowing))
    for domain in (*own, *chassis):
        for router in domain.routers:
            app.include_router(router)


def build_api(service: Service, settings: ChassisSettings) -> FastAPI:
    """The service's ASGI app; its resources open when its lifespan starts."""
    instruments = Instruments.build(settings, service_version=service.version)
    app = FastAPI(
        title=service.title,
        description=service.description,
        version=service.api_version,
        lifespan=_lifespan(service),
        # Operation IDs are the route functions' names (`get_item`): stable, and readable in
        # generated clients and in OpenAPI links.
        generate_unique_id_function=lambda route: route.name,
        # /docs is served by docs.py from fingerprinted local assets, without inline script
        # (a strict CSP, SEC-5).
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        openapi_url="/openapi.json" if settings.docs.enabled else None,
        # No redirect to the path with(out) a trailing slash: Starlette builds its absolute
        # location from the request's Host header and scheme, which a client chooses. A path
        # that is not a route is a 404.
        redirect_slashes=False,
        telemetry=instruments.tracing.fastapi_telemetry(),
    )
    limit = settings.server.max_concurrent_requests
    instruments.metrics.http_server_max_concurrent_requests.set(limit)
    chassis = ChassisState(
        service=service,
        settings=settings,
        instruments=instruments,
        guards=RequestGuards.build(settings),
        admission=Admission(limit, shed_counter=instruments.metrics.http_server_shed_requests),
    )
    app.state.chassis = chassis
    install_error_handlers(app)
    install_database_error_handlers(app)
    install_openapi(app, package=service.package)
    _install_middleware(app, chassis)
    _include_domain_routes(app, service)
    # After the API: routing tries routes in order, and these are rarely requested.
    # /metrics shares the API's port, so it is protected like the API.
    add_metrics_route(app)
    chassis.static = install_static(app, settings, own_folder=service.static)
    install_docs(app, chassis.static)
    return app
