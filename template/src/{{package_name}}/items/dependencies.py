"""Wiring for the items domain: `Annotated` aliases that routes use as parameter types."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from goldenpath_chassis.data import request_session
from goldenpath_chassis.web import resources_of, settings_of

from .cache import item_cache, page_cache
from .service import ItemService


# `async def` although nothing is awaited: FastAPI runs plain `def` dependencies in a thread
# pool, a hop per request for what is a constructor call.
async def get_item_service(request: Request) -> ItemService:
    session = request_session(request)
    settings = settings_of(request)
    cache = resources_of(request).cache
    return ItemService(
        session,
        cache=item_cache(cache),
        pages=page_cache(cache),
        job_max_attempts=settings.jobs.max_attempts,
        webhooks=settings.webhooks.url is not None,
    )


ItemServiceDep = Annotated[ItemService, Depends(get_item_service)]
