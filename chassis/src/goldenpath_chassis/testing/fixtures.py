"""The pytest plugin of `goldenpath_chassis.testing`: real servers, a migrated database, the app.

The suite provides one fixture, `service` (session scope), returning its `Service`.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from .._core.security import secrets as secret_sources
from .._core.security.dev_keys import SigningKey, generate_signing_key
from .._core.service import Service
from .._core.settings import ChassisSettings, variables
from .._core.state import chassis_of
from .asgi import asgi_client
from .auth import TokenFactory, auth_environment, auth_overrides
from .databases import create_postgres_database, delete_all_rows, drop_postgres_database, migrate
from .figures import Figures, figures_of, hand_to_controller, take_from_worker
from .live import ServiceCredentials, service_environment
from .servers import PostgresServer, RedisServer, ServerUnavailableError

# Redis's default `databases`: a shared server's seventeenth worker is refused, not sent to
# the first's.
REDIS_DATABASES = 16


@pytest.fixture(autouse=True, scope="session")
def _hermetic_environment(
    service: Service, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Settings come from each test, never from the developer's shell or the machine's mounted
    secrets (settings loaded without APP_ENV=test would read /run/secrets)."""
    names = set(variables(service.settings))
    saved = {name: os.environ.pop(name) for name in list(os.environ) if name.upper() in names}
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(secret_sources, "DEFAULT_SECRETS_DIR", tmp_path_factory.mktemp("no-secrets"))
        yield
    os.environ.update(saved)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL started from the local binaries, for tests that stop and start it."""
    try:
        server = PostgresServer.create()
    except ServerUnavailableError as error:
        pytest.fail(str(error))
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A private Redis started from the local binaries, for tests that stop and start it."""
    try:
        server = RedisServer.create()
    except ServerUnavailableError as error:
        pytest.fail(str(error))
    server.start()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest) -> str:
    """TEST_REDIS_URL (CI service containers) or a private server from the local binaries."""
    configured = os.environ.get("TEST_REDIS_URL")
    if configured:
        return worker_redis_url(configured, os.environ.get("PYTEST_XDIST_WORKER"))
    server: RedisServer = request.getfixturevalue("redis_server")
    return server.url


def worker_redis_url(url: str, worker: str | None) -> str:
    """`url` for this pytest-xdist worker: a Redis database of its own (`gw1` the one after the
    URL's), so workers sharing one server never see each other's cache, limits or sessions.
    (A private server is one per worker already.)"""
    if worker is None or not worker.startswith("gw"):
        return url
    index = int(worker[2:])
    if index >= REDIS_DATABASES:  # wrapped around, it would be an earlier worker's
        raise ValueError(
            f"pytest-xdist worker {worker} would share a Redis database on TEST_REDIS_URL with "
            f"another worker (Redis has {REDIS_DATABASES}): run with -n {REDIS_DATABASES} or fewer"
        )
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    # redis-py reads `db` from the query before the path; a socket's path is the socket's.
    if parts.scheme == "unix" or any(key == "db" for key, _ in query):
        first = int(dict(query).get("db") or 0)
        rest = [(key, value) for key, value in query if key != "db"]
        query = [("db", str((first + index) % REDIS_DATABASES)), *rest]
        return f"{url.partition('?')[0]}?{urlencode(query)}"  # urlunsplit drops unix://'s //
    first = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(first + index) % REDIS_DATABASES}"))


@pytest.fixture(scope="session")
def postgres_admin_url(request: pytest.FixtureRequest) -> str:
    """A PostgreSQL the tests may create databases in: TEST_DATABASE_URL or a private server."""
    configured = os.environ.get("TEST_DATABASE_URL")
    if configured:
        return configured
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.url


@contextmanager
def own_database(
    service: Service,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    *,
    name: str = "test",
) -> Iterator[str]:
    """A database of the service's kind and of its own, migrated to head by its migrations, and
    dropped afterwards (an SQLite file in a fresh folder, or a new PostgreSQL database)."""
    if service.settings.database_backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp(name)}/{name}.sqlite3"
        migrate(service, url)
        yield url
        return
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    url = create_postgres_database(admin_url)
    migrate(service, url)
    yield url
    drop_postgres_database(admin_url, url)


@pytest.fixture(scope="session")
def database_url(
    service: Service, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The session's database, of the service's kind, migrated to head by its migrations."""
    with own_database(service, request, tmp_path_factory) as url:
        yield url


@pytest.fixture(scope="session")
def signing_key() -> SigningKey:
    """This session's identity provider: its public key is in every test's settings."""
    return generate_signing_key()


@pytest.fixture(scope="session")
def auth_settings(signing_key: SigningKey) -> dict[str, str]:
    """Settings that make an app accept `tokens`: spread them into `load_settings(...)`."""
    return auth_overrides(signing_key)


@pytest.fixture
def settings(service: Service, database_url: str, auth_settings: dict[str, str]) -> ChassisSettings:
    return service.load_settings(app_env="test", database_url=database_url, **auth_settings)


@pytest.fixture(scope="session")
def tokens(signing_key: SigningKey) -> TokenFactory:
    """`tokens("items:read")` mints a token the app under test accepts."""
    return TokenFactory(signing_key)


@pytest.fixture(scope="session")
def all_scopes(service: Service) -> tuple[str, ...]:
    """Every scope the service's domains declare."""
    return tuple(service.scopes)


@pytest.fixture(scope="session")
def auth_headers(tokens: TokenFactory, all_scopes: tuple[str, ...]) -> dict[str, str]:
    """A bearer token with every scope, for clients the tests build themselves."""
    return tokens.headers(*all_scopes)


@pytest.fixture
async def app(service: Service, settings: ChassisSettings) -> AsyncIterator[FastAPI]:
    """The real app with its lifespan running; the database is emptied after each test."""
    application = service.create_app(settings)
    async with LifespanManager(application):
        yield application
        await delete_all_rows(service, chassis_of(application).resources.database.engine)


@pytest.fixture
async def anonymous_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client without credentials."""
    async with asgi_client(app) as http:
        yield http


@pytest.fixture
async def client(app: FastAPI, auth_headers: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose every request carries a bearer token with all the service's scopes."""
    async with asgi_client(app, headers=auth_headers) as http:
        yield http


@pytest.fixture(scope="session")
def service_credentials(
    signing_key: SigningKey, auth_headers: dict[str, str]
) -> ServiceCredentials:
    """Credentials for a service started as a process, and for the requests sent to it."""
    return ServiceCredentials(env=auth_environment(signing_key), headers=auth_headers)


@pytest.fixture(scope="session")
def service_env(
    database_url: str, redis_url: str, service_credentials: ServiceCredentials
) -> dict[str, str]:
    """The environment of a service process on the session's database and Redis."""
    return service_environment(
        database_url=database_url, redis_url=redis_url, credentials=service_credentials
    )


@pytest.fixture(scope="session")
def figures(pytestconfig: pytest.Config) -> Figures:
    """Measured figures, printed at the end of the run (see testing/figures.py)."""
    return figures_of(pytestconfig)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    figures_of(terminalreporter.config).write(terminalreporter)


def pytest_sessionfinish(session: pytest.Session) -> None:
    hand_to_controller(session.config)


@pytest.hookimpl(optionalhook=True)  # pytest-xdist's hook: only called where it is installed
def pytest_testnodedown(node: Any, error: object) -> None:
    take_from_worker(node.config, getattr(node, "workeroutput", {}))
