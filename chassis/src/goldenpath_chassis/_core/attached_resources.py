"""The open resources and authenticator an app's requests find (`chassis.open_*`): one way in
for the API's lifespan and the worker's listener, so both watch the database and authenticate
alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .api_keys.repository import ApiKeyStore
from .metrics import watch_database
from .resources import Resources
from .security.install import open_authenticator
from .settings import ChassisSettings
from .state import chassis_of


@asynccontextmanager
async def attached_resources(
    app: FastAPI,
    settings: ChassisSettings,
    resources: Resources,
    *,
    development_key_on_first_use: bool = False,
) -> AsyncIterator[None]:
    """Attach `resources` and an authenticator opened on them to `app` until the block ends,
    with the database's pool and statements exported as metrics meanwhile."""
    chassis = chassis_of(app)
    stop_watching = watch_database(resources.metrics, resources.database)
    try:
        async with open_authenticator(
            app,
            settings,
            chassis.guards,
            redis=resources.redis,
            tls=resources.tls,
            api_key_store=ApiKeyStore(resources.database),
            development_key_on_first_use=development_key_on_first_use,
        ) as authenticator:
            chassis.open_resources = resources
            chassis.open_authenticator = authenticator
            try:
                yield
            finally:
                chassis.open_authenticator = None
                chassis.open_resources = None
    finally:
        stop_watching()
