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
from .core import health
from .core.database import install_database_error_handlers, open_database
from .core.errors import UnhandledErrorMiddleware, install_error_handlers
from .core.health import HealthRegistry
from .core.lifecycle import Lifecycle
from .core.logging import get_logger
from .core.openapi import install_openapi
from .core.redis import redis_client
from .core.request_context import RequestContextMiddleware
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
        _log.info(
            "startup_complete",
            app_env=settings.app_env,
            version=__version__,
            checks=app.state.health.names,
        )
        yield
    _log.info("resources_closed")


def _install_middleware(app: FastAPI) -> None:
    # Starlette wraps in reverse order of addition: the last added runs first (outermost).
    app.add_middleware(UnhandledErrorMiddleware)
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
        docs_url="/docs" if settings.docs_enabled else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_enabled else None,
    )
    app.state.settings = settings
    app.state.health = HealthRegistry()
    app.state.lifecycle = Lifecycle()

    install_error_handlers(app)
    install_database_error_handlers(app)
    install_openapi(app)
    _install_middleware(app)
    app.include_router(health.router)
    install_routes(app)
    return app
