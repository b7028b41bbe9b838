"""The versioned API (API-1): every business route lives under /v1.

Each domain router carries its full path (`/v1/items`), so the route template that logs, metrics
and traces report is the real one. A breaking change gets a new version beside this one (see
the README's "Versioning" section); /v1 keeps working, marked deprecated, until its clients
have moved.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from .auth.router import router as auth_router
from .categories.router import router as categories_router
from .items.router import router as items_router

# The API's version, in the OpenAPI document: its major is the URL's /v1. A breaking change
# (tests/contract/test_openapi_snapshot.py knows which are) needs a new major, hence a /v2.
API_VERSION = "1.0.0"
V1_PREFIX = "/v1"
V1_ROUTERS: tuple[APIRouter, ...] = (auth_router, items_router, categories_router)


def install_routes(app: FastAPI) -> None:
    for router in V1_ROUTERS:
        if not (router.prefix or "").startswith(V1_PREFIX + "/"):
            raise ValueError(f"router {router.prefix!r} is not under {V1_PREFIX}")
        app.include_router(router)
