"""The example on a PostgreSQL the tests may stop, start, freeze and resume."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import ClassVar

import pytest

from goldenpath_chassis import Service
from goldenpath_chassis.settings import DatabaseBackend
from goldenpath_chassis.testing.databases import (
    create_postgres_database,
    drop_postgres_database,
    migrate,
)
from goldenpath_chassis.testing.servers import PostgresServer

from tests.example.service import ExampleSettings


class PostgresExampleSettings(ExampleSettings):
    database_backend: ClassVar[DatabaseBackend | None] = "postgresql"


@pytest.fixture(scope="module")
def postgres_service(service: Service) -> Service:
    """The example on PostgreSQL, even in a run on SQLite (EXAMPLE_BACKEND=sqlite)."""
    return dataclasses.replace(service, settings=PostgresExampleSettings)


@pytest.fixture
def outage_database(postgres_service: Service, postgres_server: PostgresServer) -> Iterator[str]:
    """A database of its own on the restartable server (never CI's shared one)."""
    url = create_postgres_database(postgres_server.url)
    migrate(postgres_service, url)
    yield url
    if postgres_server.data.joinpath("postmaster.pid").exists():
        drop_postgres_database(postgres_server.url, url)
