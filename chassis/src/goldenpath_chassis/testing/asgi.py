"""In-process HTTP clients: how a test talks to an app it holds, without sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

BASE_URL = "http://testserver"


@asynccontextmanager
async def asgi_client(
    app: FastAPI,
    *,
    headers: Mapping[str, str] | None = None,
    base_url: str = BASE_URL,
    lifespan: bool = False,
) -> AsyncIterator[httpx.AsyncClient]:
    """A client calling `app` in-process. `lifespan=True` also runs the app's start-up before
    and its shutdown after, for an app the test built itself (fixtures' apps run theirs)."""
    async with AsyncExitStack() as stack:
        if lifespan:
            await stack.enter_async_context(LifespanManager(app))
        transport = httpx.ASGITransport(app=app)
        yield await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url=base_url, headers=headers)
        )
