"""The application factory: `create_app(settings)` wires every concern; nothing runs at import.

Resources (database engine, Redis, ...) are opened in the lifespan, in order, and closed in
reverse order on shutdown; each registers its own readiness check.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from . import __version__, models  # noqa: F401 - every table registered, so foreign keys resolve
from ._project import DESCRIPTION, PROJECT_NAME
from .api import API_VERSION, install_routes
from .api_keys.repository import ApiKeyStore
from .core import health
from .core.database import install_database_error_handlers, open_database
from .core.docs import install_docs
from .core.errors import UnhandledErrorMiddleware, install_error_handlers
from .core.health import HealthRegistry
from .core.lifecycle import Lifecycle
from .core.logging import get_logger
from .core.openapi import install_openapi
from .core.redis import redis_client
from .core.request_context import RequestContextMiddleware
from .core.security.install import add_request_guards, add_security_headers, security_resources
from .core.settings import Settings, load_settings

_log = get_logger(__name__)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    if settings.app_env == "development" and settings.database_url is None:
        # Zero set-up: the embedded development database migrates itself. Everywhere else,
        # migrations are a deliberate step (`migrate` command, the Kubernetes migration Job).
        from .core.migrations import upgrade_async  # noqa: PLC0415 - Alembic only when needed

        await upgrade_async(settings)
    async with AsyncExitStack() as resources:
        app.state.database = await resources.enter_async_context(
            open_database(settings, app.state.health)
        )
        app.state.redis = await resources.enter_async_context(
            redis_client(settings, app.state.health)
        )
        await resources.enter_async_context(
            security_resources(app, settings, api_key_store=ApiKeyStore(app.state.database))
        )
        _log.info(
            "startup_complete",
            app_env=settings.app_env,
            version=__version__,
            checks=app.state.health.names,
        )
        yield
    _log.info("resources_closed")


def _install_middleware(app: FastAPI, settings: Settings) -> None:
    # Starlette wraps in reverse order of addition: the last added runs first (outermost).
    # A request meets: request context, security headers, unhandled errors, CORS, the per-IP
    # rate limit, the body size limit, then routing (see core/security/install.py).
    add_request_guards(app, settings)
    app.add_middleware(UnhandledErrorMiddleware)
    add_security_headers(app, settings)
    app.add_middleware(RequestContextMiddleware)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()
    app = FastAPI(
        title=PROJECT_NAME,
        description=DESCRIPTION,
        version=API_VERSION,
        lifespan=lifespan,
        # Operation IDs are the route functions' names (`get_item`): stable, and readable in
        # generated clients and in OpenAPI links.
        generate_unique_id_function=lambda route: route.name,
        # /docs is served by core/docs.py, without inline script (strict CSP, SEC-5).
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.settings = settings
    app.state.health = HealthRegistry()
    app.state.lifecycle = Lifecycle()

    install_error_handlers(app)
    install_database_error_handlers(app)
    install_openapi(app)
    install_docs(app)
    _install_middleware(app, settings)
    app.include_router(health.router)
    install_routes(app)
    return app
