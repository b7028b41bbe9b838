"""The example on a PostgreSQL, and a Redis, the tests may stop, start, freeze and resume."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import ClassVar

import pytest
from fastapi import FastAPI

from goldenpath_chassis import Service
from goldenpath_chassis.settings import DatabaseBackend
from goldenpath_chassis.testing.databases import (
    create_postgres_database,
    drop_postgres_database,
    migrate,
)
from goldenpath_chassis.testing.servers import PostgresServer, RedisServer

from tests.example.service import ExampleSettings
from tests.support.example_app import ExampleOnRedis, example_on_redis


class PostgresExampleSettings(ExampleSettings):
    database_backend: ClassVar[DatabaseBackend | None] = "postgresql"


@pytest.fixture(scope="module")
def postgres_service(service: Service) -> Service:
    """The example on PostgreSQL, even in a run on SQLite (EXAMPLE_BACKEND=sqlite)."""
    return dataclasses.replace(service, settings=PostgresExampleSettings)


@pytest.fixture
def outage_database(postgres_service: Service, postgres_server: PostgresServer) -> Iterator[str]:
    """A database of its own on the restartable server (never CI's shared one). A test that
    stops the server and fails before starting it again finds it started again afterwards:
    one failure must not fail every test after it."""
    url = create_postgres_database(postgres_server.url)
    migrate(postgres_service, url)
    yield url
    if not postgres_server.data.joinpath("postmaster.pid").exists():
        postgres_server.start()
    drop_postgres_database(postgres_server.url, url)


@pytest.fixture
def app_on_outage_database(
    postgres_service: Service, outage_database: str, auth_settings: dict[str, str]
) -> FastAPI:
    """The example on `outage_database`, not started yet, giving up a connection attempt after
    a second."""
    settings = postgres_service.load_settings(
        **auth_settings,
        app_env="test",
        database_url=outage_database,
        database_connect_timeout_seconds=1,
    )
    return postgres_service.create_app(settings)


@pytest.fixture
def stoppable_redis(redis_server: RedisServer) -> Iterator[RedisServer]:
    """The session's Redis, for a test that stops it: started again after the test if it was
    left stopped (a failed test), so one failure does not fail every test after it."""
    yield redis_server
    if redis_server.process is None:
        redis_server.start()


@pytest.fixture
def example_app_on_redis(
    service: Service, database_url: str, auth_settings: dict[str, str]
) -> ExampleOnRedis:
    """`example_app_on_redis(redis_url, **settings)`: the example on the session's database and
    that Redis, started and stopped by `async with` (tests/support/example_app.py)."""
    return example_on_redis(service, database_url=database_url, auth_settings=auth_settings)
