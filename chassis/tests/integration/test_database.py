"""DB-1/DB-2/DB-4/PERF-2: the chassis's database layer, on PostgreSQL and on the embedded SQLite.

The pool and its limits, the statement timeout, migrations that round-trip, the schema rules
every table inherits, the slow-query log, the query observers and the N+1 guard. The example's
own rules (its CHECK and UNIQUE constraints) are the example's business; a service tests its
own.
"""

from __future__ import annotations

import asyncio
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from fastapi import FastAPI
from sqlalchemy import Connection, Uuid, bindparam, inspect, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import QueuePool
from structlog.testing import capture_logs

from goldenpath_chassis import Service, chassis_of
from goldenpath_chassis._core import database, migrations
from goldenpath_chassis._core.database import (
    add_query_observer,
    create_engine,
    remove_query_observer,
)
from goldenpath_chassis.settings import (
    DEVELOPMENT_DATABASE_URL,
    ChassisSettings,
    ConfigurationError,
    load_settings,
)
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.databases import (
    assert_max_queries,
    count_queries,
    create_postgres_database,
    drop_postgres_database,
)

pytestmark = pytest.mark.integration


def chassis_settings(url: str, **overrides: object) -> ChassisSettings:
    """The chassis's own settings on `url`, whichever backend the example runs on."""
    return load_settings(
        ChassisSettings, {"app_env": "test", "database_url": url, **overrides}, environ={}
    )


@pytest.fixture(scope="module")
def postgres_url(database_url: str, postgres_admin_url: str) -> str:
    """PostgreSQL whatever the example runs on (EXAMPLE_BACKEND=sqlite): the suite's database,
    or the server's own, for tests that need a server and no schema."""
    return database_url if database_url.startswith("postgresql") else postgres_admin_url


def sqlite_url(directory: Path) -> str:
    return f"sqlite+aiosqlite:///{directory}/test.sqlite3"


@pytest.fixture(params=["sqlite", "postgresql"])
def each_backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database on each backend. A plain fixture: PostgreSQL's module-scoped database is made
    with `asyncio.run`, which cannot run from inside an async test when that test is the
    module's first to need it."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path)
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
async def engines() -> AsyncIterator[list[AsyncEngine]]:
    """Engines a test makes; disposed after it."""
    made: list[AsyncEngine] = []
    yield made
    for engine in made:
        await engine.dispose()


# --- DB-2: migrations round-trip, on both backends ---------------------------------------------


def schema_drift(connection: object, service: Service) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})  # type: ignore[arg-type]
    return list(compare_metadata(context, service.metadata))


async def table_names(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        names = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
    return set(names) - {"alembic_version"}


async def round_trip(service: Service, url: str) -> None:
    settings = chassis_settings(url)
    location = service.migrations
    engine = create_engine(settings)
    try:
        await migrations.upgrade_async(settings, "head", location=location)
        assert await table_names(engine) == set(service.metadata.tables)
        assert {"widgets", "jobs"} <= set(service.metadata.tables)  # the domain's and the chassis's
        await migrations.downgrade_async(settings, "base", location=location)
        assert await table_names(engine) == set()
        await migrations.upgrade_async(settings, "head", location=location)
        async with engine.connect() as connection:
            drift = await connection.run_sync(schema_drift, service)
        assert drift == [], f"models and migrations disagree: {drift}"
    finally:
        await engine.dispose()


# Every service can run on the embedded SQLite in development, PostgreSQL services also on that.
@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_db2_migrations_round_trip(
    backend: str, service: Service, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        asyncio.run(round_trip(service, sqlite_url(tmp_path)))
        return
    admin_url: str = request.getfixturevalue("postgres_admin_url")
    url = create_postgres_database(admin_url)
    try:
        asyncio.run(round_trip(service, url))
    finally:
        drop_postgres_database(admin_url, url)


# --- DB-4: what every table inherits from the chassis's base -------------------------------------


@pytest.fixture
async def raw(database_url: str) -> AsyncIterator[AsyncConnection]:
    """A bare connection inside a transaction that is rolled back: SQL around the app."""
    engine = create_engine(chassis_settings(database_url))
    async with engine.connect() as connection:
        transaction = await connection.begin()
        yield connection
        await transaction.rollback()
    await engine.dispose()


async def test_db4_the_database_sets_the_timestamps_itself(raw: AsyncConnection) -> None:
    insert = text(
        "INSERT INTO widgets (id, owner, name, description, price_cents, status, version) "
        "VALUES (:id, 'user:raw', 'raw', '', 0, 'pending', 1)"
    ).bindparams(bindparam("id", type_=Uuid))
    row_id = uuid.uuid4()
    await raw.execute(insert, {"id": row_id})  # written around the app: no timestamps
    # This row alone: a process test's service may have left rows in the session's database.
    select = text("SELECT created_at, updated_at FROM widgets WHERE id = :id").bindparams(
        bindparam("id", type_=Uuid)
    )
    created = (await raw.execute(select, {"id": row_id})).one()
    assert created.created_at is not None
    assert created.updated_at is not None


def conventional_names(connection: Connection) -> dict[str, set[str | None]]:
    inspector = inspect(connection)
    return {
        "unique": {c["name"] for c in inspector.get_unique_constraints("widgets")},
        "check": {c["name"] for c in inspector.get_check_constraints("widgets")},
        "jobs": {ix["name"] for ix in inspector.get_indexes("jobs")},
    }


def job_indexes(connection: Connection) -> list[tuple[str | None, ...]]:
    return [tuple(ix["column_names"]) for ix in inspect(connection).get_indexes("jobs")]


async def test_db4_constraints_and_indexes_have_conventional_names(database_url: str) -> None:
    engine = create_engine(chassis_settings(database_url))
    try:
        async with engine.connect() as connection:
            names = await connection.run_sync(conventional_names)
            indexes = await connection.run_sync(job_indexes)
    finally:
        await engine.dispose()
    assert "uq_widgets_owner_name" in names["unique"]
    assert {"ck_widgets_name_length", "ck_widgets_price_positive"} <= names["check"]
    # The queue's claim query reads due jobs by status and time (ARCH-3).
    assert ("status", "run_after") in indexes
    assert "ix_jobs_status_run_after" in names["jobs"]


async def test_db4_ids_are_uuid7_and_time_ordered(client: httpx.AsyncClient) -> None:
    ids = [
        uuid.UUID((await client.post("/v1/widgets", json={"name": f"w{n}"})).json()["id"])
        for n in range(5)
    ]
    assert {found.version for found in ids} == {7}
    assert ids == sorted(ids)


# --- DB-1: the pool and its limits ---------------------------------------------------------------


async def test_db1_the_pool_is_bounded_and_a_wait_for_it_times_out(
    postgres_url: str, engines: list[AsyncEngine]
) -> None:
    settings = chassis_settings(
        postgres_url,
        database_pool_size=2,
        database_max_overflow=1,
        database_pool_timeout_seconds=0.5,
        database_pool_recycle_seconds=600,
    )
    engine = create_engine(settings)
    engines.append(engine)
    pool = engine.sync_engine.pool
    assert isinstance(pool, QueuePool)
    assert pool.size() == 2
    assert pool._max_overflow == 1
    assert pool._recycle == 600

    held = [await engine.connect() for _ in range(3)]  # the pool, and its overflow
    try:
        started = time.monotonic()
        with pytest.raises(PoolTimeoutError):
            await engine.connect()
        waited = time.monotonic() - started
        assert 0.5 <= waited < 3, waited  # it waited the pool timeout, then gave up
    finally:
        for connection in held:
            await connection.close()
    async with engine.connect() as connection:  # returned connections serve again
        assert (await connection.execute(text("SELECT 1"))).scalar_one() == 1


async def test_db1_connections_name_the_service_and_carry_the_statement_timeout(
    postgres_url: str, engines: list[AsyncEngine]
) -> None:
    settings = chassis_settings(postgres_url, database_statement_timeout_ms=1234)
    engine = create_engine(settings)
    engines.append(engine)
    async with engine.connect() as connection:
        name = await connection.execute(text("SELECT current_setting('application_name')"))
        assert name.scalar_one() == settings.service_name
        timeout = await connection.execute(text("SHOW statement_timeout"))
        assert timeout.scalar_one() == "1234ms"


async def test_db1_the_server_cancels_a_statement_past_the_timeout(
    postgres_url: str, engines: list[AsyncEngine]
) -> None:
    engine = create_engine(chassis_settings(postgres_url, database_statement_timeout_ms=200))
    engines.append(engine)
    started = time.monotonic()
    async with engine.connect() as connection:
        backend = await connection.scalar(text("SELECT pg_backend_pid()"))
        # The server's cancel, before the driver's own bound (the timeout and a margin) ends
        # the wait and discards the connection.
        with pytest.raises(DBAPIError, match="statement timeout") as cancelled:
            await connection.execute(text("SELECT pg_sleep(10)"))
        assert not cancelled.value.connection_invalidated
    assert time.monotonic() - started < 5  # cancelled by the server, not run to its end
    async with engine.connect() as connection:  # the connection survives its cancelled query
        assert await connection.scalar(text("SELECT pg_backend_pid()")) == backend


async def test_db1_a_statement_past_the_driver_s_bound_is_given_up_and_its_connection_discarded(
    postgres_url: str, engines: list[AsyncEngine]
) -> None:
    """What a frozen server amounts to for the driver: no answer within the statement timeout
    (tests/resilience/test_postgres_frozen.py freezes one)."""
    settings = chassis_settings(postgres_url, database_statement_timeout_ms=100)
    assert settings.database.client_timeout_seconds == pytest.approx(1.1)
    engine = create_engine(settings)
    engines.append(engine)
    async with engine.connect() as connection:
        backend = await connection.scalar(text("SELECT pg_backend_pid()"))
        # Longer than the driver waits (1.1 s), so the server's cancel comes too late.
        await connection.execute(text("SET statement_timeout = '4s'"))
        with pytest.raises(OperationalError) as given_up:
            await connection.execute(text("SELECT pg_sleep(10)"))
        # A connection failure (the request's answer is a 503 problem), the connection gone.
        assert isinstance(given_up.value.orig, TimeoutError)
        assert given_up.value.connection_invalidated
        assert connection.invalidated
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    async with engine.connect() as connection:  # a new connection, its session reset
        assert await connection.scalar(text("SELECT pg_backend_pid()")) != backend
        assert await connection.scalar(text("SHOW statement_timeout")) == "100ms"


async def test_db1_on_sqlite_a_locked_database_is_waited_for_the_statement_timeout(
    tmp_path: Path, engines: list[AsyncEngine]
) -> None:
    engine = create_engine(
        chassis_settings(sqlite_url(tmp_path), database_statement_timeout_ms=300)
    )
    engines.append(engine)
    async with engine.begin() as connection:
        await connection.execute(text("CREATE TABLE t (x INTEGER)"))
    async with engine.connect() as writer, engine.connect() as blocked:
        await writer.execute(text("INSERT INTO t VALUES (1)"))  # holds the write lock
        started = time.monotonic()
        with pytest.raises(OperationalError, match="database is locked"):
            await blocked.execute(text("INSERT INTO t VALUES (2)"))
        waited = time.monotonic() - started
        await writer.rollback()
    # The busy timeout, not SQLite's default of 5 s, nor an immediate failure.
    assert 0.25 <= waited < 3, waited


async def test_db1_the_embedded_development_database_needs_no_set_up(
    service: Service,
    auth_settings: dict[str, str],
    auth_headers: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = service.load_settings(app_env="development", **auth_settings)
    assert settings.uses_embedded_database
    assert settings.database.effective_url == DEVELOPMENT_DATABASE_URL
    assert not service.load_settings(app_env="test", **auth_settings).uses_embedded_database
    with pytest.raises(ConfigurationError) as refused:
        load_settings(ChassisSettings, {"app_env": "production"}, environ={})
    assert ("DATABASE_URL", "is required in production") in refused.value.problems

    monkeypatch.chdir(tmp_path)  # the embedded database lives under ./var
    app = service.create_app(settings)
    async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
        created = await client.post("/v1/widgets", json={"name": "Local"})  # migrated by itself
        assert created.status_code == 201, created.text
        read = await client.get(f"/v1/widgets/{created.json()['id']}")
        assert read.json()["name"] == "Local"
        async with chassis_of(app).resources.database.engine.connect() as connection:
            pragmas = {
                pragma: (await connection.execute(text(f"PRAGMA {pragma}"))).scalar_one()
                for pragma in ("foreign_keys", "journal_mode", "busy_timeout")
            }
    assert (tmp_path / "var" / "development.sqlite3").is_file()
    assert pragmas == {
        "foreign_keys": 1,  # SQLite enforces foreign keys only when asked, per connection
        "journal_mode": "wal",
        "busy_timeout": settings.database.statement_timeout_ms,
    }


# --- PERF-2: slow queries, query observers, the N+1 guard ----------------------------------------

SLOW_QUERY = (
    "WITH RECURSIVE counter(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM counter "
    "WHERE n < 200000) SELECT count(*) FROM counter WHERE :secret = :secret"
)


async def test_perf2_slow_queries_are_logged_without_parameters(
    each_backend_url: str, engines: list[AsyncEngine]
) -> None:
    engine = create_engine(chassis_settings(each_backend_url, database_slow_query_ms=1))
    engines.append(engine)
    with capture_logs() as logs:
        async with engine.connect() as connection:
            # Slow on every backend: count to 200,000 the long way.
            await connection.execute(text(SLOW_QUERY), {"secret": "hunter2"})
    slow = [line for line in logs if line["event"] == "slow_query"]
    assert slow
    assert "RECURSIVE" in slow[0]["statement"]
    assert slow[0]["duration_ms"] >= 1
    assert "hunter2" not in str(slow)


async def test_perf2_a_failed_statements_error_names_no_parameter_value(
    each_backend_url: str, engines: list[AsyncEngine]
) -> None:
    """The error reaches the unhandled-error log line whole; the statement's shape is there,
    the values (personal data, tokens) are not."""
    engine = create_engine(chassis_settings(each_backend_url))
    engines.append(engine)
    async with engine.connect() as connection:
        with pytest.raises(DBAPIError) as failed:
            await connection.execute(
                text("SELECT * FROM no_such_table WHERE email = :email"),
                {"email": "alice@example.com"},
            )
    assert "no_such_table" in str(failed.value)
    assert "alice@example.com" not in str(failed.value)


FAILURES = 1000


async def test_perf2_failed_statements_leave_nothing_behind_on_their_connection(
    each_backend_url: str, engines: list[AsyncEngine]
) -> None:
    """A failed statement (a name taken, a timeout) never reaches `after_cursor_execute`; what
    its timing kept must not stay on the pooled connection, which lives for
    DATABASE_POOL_RECYCLE_SECONDS (30 minutes by default), growing with every failure."""
    engine = create_engine(chassis_settings(each_backend_url))
    engines.append(engine)

    async def fail(times: int) -> None:
        async with engine.connect() as connection:
            for _ in range(times):
                with pytest.raises(DBAPIError):
                    await connection.execute(text("SELECT * FROM no_such_table"))
                await connection.rollback()

    await fail(10)  # the connection opened, and what a first use allocates
    only_the_module = [tracemalloc.Filter(True, database.__file__)]
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot().filter_traces(only_the_module)
        await fail(FAILURES)
        after = tracemalloc.take_snapshot().filter_traces(only_the_module)
    finally:
        tracemalloc.stop()
    grown = sum(stat.size_diff for stat in after.compare_to(before, "filename"))
    assert grown < FAILURES * 8, f"{grown} bytes kept by database.py after {FAILURES} failures"


async def test_perf2_fast_queries_are_not_logged(
    tmp_path: Path, engines: list[AsyncEngine]
) -> None:
    engine = create_engine(chassis_settings(sqlite_url(tmp_path), database_slow_query_ms=60_000))
    engines.append(engine)
    with capture_logs() as logs:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    assert [line for line in logs if line["event"] == "slow_query"] == []


async def test_perf2_every_statement_reaches_the_query_observers(
    database_url: str, engines: list[AsyncEngine]
) -> None:
    engine = create_engine(chassis_settings(database_url))
    engines.append(engine)
    seen: list[tuple[str, float]] = []

    def observe(kind: str, seconds: float) -> None:
        seen.append((kind, seconds))

    add_query_observer(observe)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("SELECT 1"))
            await connection.execute(
                text("UPDATE jobs SET attempts = attempts WHERE kind = 'nothing'")
            )
    finally:
        remove_query_observer(observe)
    kinds = [kind for kind, _ in seen]
    assert "SELECT" in kinds
    assert "UPDATE" in kinds
    assert all(seconds >= 0 for _, seconds in seen)
    count = len(seen)
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    assert len(seen) == count  # removed: it sees nothing more


async def test_perf2_the_n_plus_1_guard_counts_statements_and_fails_past_its_limit(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    engine = chassis_of(app).resources.database.engine
    for n in range(3):
        await client.post("/v1/widgets", json={"name": f"guarded {n}"})
    with assert_max_queries(engine, 3) as within:
        async with engine.connect() as connection:
            for _ in range(3):
                await connection.execute(text("SELECT count(*) FROM widgets"))
    assert within.count == 3

    with (  # noqa: PT012 - the guard raises when its block ends
        pytest.raises(AssertionError, match="expected at most 2 queries, ran 4") as failure,
        assert_max_queries(engine, 2),
    ):
        async with engine.connect() as connection:
            ids = (await connection.execute(text("SELECT id FROM widgets"))).scalars().all()
            for _ in ids:  # one query per row: the N+1 the guard exists for
                await connection.execute(text("SELECT name FROM widgets LIMIT 1"))
    assert "SELECT name FROM widgets" in str(failure.value)  # it lists what ran


async def test_perf2_listing_widgets_costs_the_same_statements_for_1_or_20(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The guard in use: a list endpoint whose statements grow with its rows is an N+1."""
    engine = chassis_of(app).resources.database.engine

    async def statements_to_list() -> int:
        with count_queries(engine) as counter:
            assert (await client.get("/v1/widgets?limit=100")).status_code == 200
        return counter.count

    await client.post("/v1/widgets", json={"name": "one"})
    one = await statements_to_list()
    for n in range(19):
        await client.post("/v1/widgets", json={"name": f"more {n}"})
    assert len((await client.get("/v1/widgets?limit=100")).json()["items"]) == 20
    assert await statements_to_list() == one
    with assert_max_queries(engine, one):
        await client.get("/v1/widgets?limit=100")
