"""The database: one async engine per process, sessions per request (DB-1, PERF-2).

The engine is created in the app's lifespan and disposed on shutdown. PostgreSQL connections
come from a bounded pool with pre-ping (of connections idle past a short window), recycling, a
server-side statement timeout and a client-side bound on every answer, for a server that stops
answering (unanswered_database.py), and connections that reach a read-only standby are left
(read_only_database.py); SQLite (the zero-setup development default) gets foreign keys,
WAL and a busy timeout. Every statement is timed: slow ones are logged (the statement, never
its parameters) and registered observers (metrics) see each duration.

A lost database is not a bug in a request: `DatabaseUnavailableError` and the handlers installed
here answer 503 problems, never a 500 with a traceback, and readiness reports it; the warning,
`database_unavailable`, is said at once, then at most once a minute with the number of requests
refused since (the rest when the database closes): an outage is not one line a request on top
of the access log, just when the log pipeline is needed most. New PostgreSQL
connections go through the "database" circuit breaker (RES-1): while it is open, requests fail
at once instead of each waiting out the connect timeout on a database that is down.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Annotated, Any, ClassVar

from fastapi import Depends, FastAPI, Request
from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, InterfaceError, InvalidatePoolError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from .errors import DomainError, domain_error_response, problem_response
from .health import HealthRegistry
from .logging import get_logger
from .read_only_database import leave_read_only_servers
from .request_context import on_response_start
from .resilience import CircuitBreakers, CircuitOpenError
from .settings import ChassisSettings
from .settings.groups import DATABASE_CLIENT_TIMEOUT_MARGIN_SECONDS
from .state import request_chassis
from .throttled_line import ThrottledLine
from .unanswered_database import discard_unanswered_connections

QueryObserver = Callable[[str, float], None]
"""Called with (statement kind, duration in seconds) after every statement."""

_log = get_logger(__name__)
_query_observers: list[QueryObserver] = []
# Where the pool's checkin records when a connection was last returned (pre-ping, below).
_RETURNED_AT = "returned_at"


def add_query_observer(observer: QueryObserver) -> None:
    if observer not in _query_observers:
        _query_observers.append(observer)


def remove_query_observer(observer: QueryObserver) -> None:
    if observer in _query_observers:
        _query_observers.remove(observer)


class DatabaseUnavailableError(DomainError):
    status = HTTPStatus.SERVICE_UNAVAILABLE
    code = "database-unavailable"
    title = "Database unavailable"
    headers: ClassVar[dict[str, str]] = {"Retry-After": "5"}

    def __init__(self) -> None:
        super().__init__("The database cannot be reached right now; retry shortly.")


def _unavailable_line() -> ThrottledLine:
    return ThrottledLine(_log, "database_unavailable", count_name="requests")


@dataclass(frozen=True)
class Database:
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    # The requests answered 503 because the database is not there, said as a flood.
    unavailable: ThrottledLine = field(default_factory=_unavailable_line)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"


DATABASE_DEPENDENCY = "database"


@dataclass(frozen=True)
class ServerTimeouts:
    """What PostgreSQL bounds on each connection: a statement's run (0: no bound) and, if set, a
    wait for a lock (0: no bound). The application's are DATABASE_STATEMENT_TIMEOUT_MS's;
    `migrate` has its own (migrations.py)."""

    statement_ms: int
    lock_ms: int | None = None

    @property
    def client_seconds(self) -> float | None:
        """The driver's bound on any answer (unanswered_database.py): none if statements have
        none, or a statement that legitimately runs long would be cut off by the client."""
        if self.statement_ms == 0:
            return None
        return self.statement_ms / 1000 + DATABASE_CLIENT_TIMEOUT_MARGIN_SECONDS


def _postgres_engine(
    url: str,
    settings: ChassisSettings,
    breakers: CircuitBreakers | None = None,
    timeouts: ServerTimeouts | None = None,
) -> AsyncEngine:
    import asyncpg  # noqa: PLC0415 - only PostgreSQL services install the driver

    timeouts = timeouts or ServerTimeouts(settings.database.statement_timeout_ms)
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    server_settings = {
        "statement_timeout": str(timeouts.statement_ms),
        "application_name": settings.service_name,
    }
    if timeouts.lock_ms is not None:
        server_settings["lock_timeout"] = str(timeouts.lock_ms)

    # A URL's `target_session_attrs=read-write` refuses a standby (read_only_database.py): no
    # database to use, as a refused connection is.
    not_writable = asyncpg.TargetServerAttributeNotMatched

    async def connect() -> Any:
        # asyncpg reports a refused or timed-out connection with plain OSError/TimeoutError,
        # which SQLAlchemy passes through unwrapped; name it for what it is.
        try:
            if breakers is None:
                return await _connect()
            async with breakers.protect(DATABASE_DEPENDENCY):
                return await _connect()
        except (OSError, TimeoutError, CircuitOpenError, not_writable) as exc:
            raise DatabaseUnavailableError from exc

    async def _connect() -> Any:
        return await asyncpg.connect(
            dsn,
            timeout=settings.database.connect_timeout_seconds,
            # The bound on every answer where the server's statement timeout cannot fire: a
            # frozen server (unanswered_database.py).
            command_timeout=timeouts.client_seconds,
            server_settings=server_settings,
        )

    if breakers is not None:
        # Only a failed connection counts against the database, never a bad statement; and a
        # short reset, so service resumes within seconds of the database coming back.
        breakers.declare(
            DATABASE_DEPENDENCY,
            reset_seconds=min(5.0, settings.breakers.reset_seconds),
            is_failure=lambda exc: isinstance(exc, OSError | TimeoutError | not_writable),
        )

    engine = create_async_engine(
        url,
        async_creator=connect,
        hide_parameters=True,  # a failed statement's error, logged, names no value (personal data)
        pool_size=settings.database.pool_size,
        max_overflow=settings.database.max_overflow,
        pool_timeout=settings.database.pool_timeout_seconds,
        pool_recycle=settings.database.pool_recycle_seconds,
    )
    ping_before_use(engine.sync_engine, idle_seconds=settings.database.pool_pre_ping_idle_seconds)
    discard_unanswered_connections(engine.sync_engine)
    leave_read_only_servers(engine.sync_engine)
    return engine


def ping_before_use(engine: Engine, *, idle_seconds: float) -> None:
    """Pre-ping (DB-1): test a pooled connection before it is handed out, unless it came back
    to the pool less than `idle_seconds` ago (0: test on every checkout).

    SQLAlchemy's `pool_pre_ping` tests on every checkout, and with asyncpg a test is three round
    trips (BEGIN, an empty statement, ROLLBACK), as many as a read's own transaction. A
    connection that finished a statement a moment ago is as alive as a test would find it
    (HikariCP skips its check within 500 ms for the same reason). What can go wrong: a database
    lost within that window fails the one statement that finds out, which invalidates the
    pool as a failed test does; every other request reconnects.
    """
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _returned(_: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _test(dbapi_connection: Any, record: Any, _: Any) -> None:
        returned_at = record.info.get(_RETURNED_AT)
        # A new connection has never been returned: it was tested by being made.
        if returned_at is None or time.monotonic() - returned_at < idle_seconds:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except TimeoutError as error:
            # No answer within the driver's timeout: the database is frozen or cut off.
            raise InvalidatePoolError(str(error)) from error
        except dialect.loaded_dbapi.Error as error:
            if not dialect.is_disconnect(error, dbapi_connection, None):
                raise
            # As `pool_pre_ping` does: every older connection is replaced, this one at once.
            raise InvalidatePoolError(str(error)) from error


def _sqlite_engine(url: str, settings: ChassisSettings) -> AsyncEngine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(
        url,
        connect_args={"timeout": settings.database.statement_timeout_ms / 1000},
        hide_parameters=True,  # as on PostgreSQL: errors name no parameter value
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _pragmas(dbapi_connection: Any, _: Any) -> None:
        cursor = dbapi_connection.cursor()
        # SQLite enforces foreign keys only when asked, per connection (DB-3).
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={settings.database.statement_timeout_ms}")
        cursor.close()

    return engine


def _statement_kind(statement: str) -> str:
    head = statement.lstrip().split(None, 1)
    return head[0].upper() if head else "UNKNOWN"


def instrument_queries(engine: Engine, *, slow_query_ms: int) -> None:
    """Time every statement: log the slow ones, report each to the query observers."""

    # One slot per connection, overwritten by its next statement: a connection runs one at a
    # time, and a failed one never reaches after_cursor_execute, so a stack of start times
    # grew by one with every failure for as long as the pooled connection lived.
    @event.listens_for(engine, "before_cursor_execute")
    def _start(conn: Connection, *_: Any) -> None:
        conn.info["query_started"] = time.perf_counter()

    @event.listens_for(engine, "after_cursor_execute")
    def _finish(conn: Connection, cursor: Any, statement: str, *_: Any) -> None:
        started: float | None = conn.info.pop("query_started", None)
        if started is None:
            return
        duration = time.perf_counter() - started
        kind = _statement_kind(statement)
        for observer in _query_observers:
            observer(kind, duration)
        if duration * 1000 >= slow_query_ms:
            # The statement shows the query's shape; parameter values may be personal data.
            _log.warning(
                "slow_query", duration_ms=round(duration * 1000, 2), statement=statement[:2000]
            )


def create_engine(
    settings: ChassisSettings,
    *,
    breakers: CircuitBreakers | None = None,
    timeouts: ServerTimeouts | None = None,
) -> AsyncEngine:
    """The database's engine; `timeouts` in place of the application's (PostgreSQL only: SQLite
    has no such bounds, and waits for its write lock up to DATABASE_STATEMENT_TIMEOUT_MS)."""
    url = settings.database.effective_url
    engine = (
        _sqlite_engine(url, settings)
        if url.startswith("sqlite")
        else _postgres_engine(url, settings, breakers, timeouts)
    )
    instrument_queries(engine.sync_engine, slow_query_ms=settings.database.slow_query_ms)
    return engine


@asynccontextmanager
async def open_database(
    settings: ChassisSettings, health: HealthRegistry, *, breakers: CircuitBreakers | None = None
) -> AsyncIterator[Database]:
    engine = create_engine(settings, breakers=breakers)
    database = Database(engine, async_sessionmaker(engine, expire_on_commit=False))

    async def ping() -> None:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))

    health.register("database", ping)
    try:
        yield database
    finally:
        await engine.dispose()
        database.unavailable.say_rest()


_SESSION_STATE_KEY = "database_session"


def request_session(request: Request) -> AsyncSession:
    """The request's database session: made on first use, then the same one for the request.

    `DbSession` resolves to it too, so a route that takes both a session and a service built on
    `request_session` works in one session and one transaction. Services' constructors call it
    directly: one dependency fewer for FastAPI to solve on every request.

    A request that never touches the database (a cache hit) leaves its session unused, and an
    unused session holds no connection, transaction or object: it is dropped without `close()`,
    which would still cost a greenlet switch (most of a cached read's own work).

    The session is closed as the response starts, before its body is sent: a client that reads
    slowly, or not at all, holds no pooled connection, nor a transaction idle on the server.
    Anything uncommitted by then is rolled back. A streamed body (or a background task) that
    uses the session again gets a new transaction, closed once the app has answered; the
    objects loaded before the start are detached by then (their loaded attributes still read).
    """
    state = request.scope.setdefault("state", {})
    session: AsyncSession | None = state.get(_SESSION_STATE_KEY)
    if session is not None:
        return session
    database = request_chassis(request).resources.database
    session = database.sessionmaker()

    async def close() -> None:
        # Any query, flush or `add()` begins a transaction; objects kept after a commit stay in
        # the identity map. Either way the session is closed as `async with` would close it.
        if session.in_transaction() or session.identity_map or session.new:
            await session.close()

    on_response_start(request.scope, close)
    state[_SESSION_STATE_KEY] = session
    return session


# async: a plain `def` dependency would cost a thread-pool hop per request. Not a generator:
# FastAPI's machinery around a dependency with `yield` costs more than the session itself on a
# request that never uses it (a cache hit); the request layer closes it instead.
async def get_session(request: Request) -> AsyncSession:
    """One session per request (`request_session`); services commit, anything uncommitted is
    rolled back."""
    return request_session(request)


DbSession = Annotated[AsyncSession, Depends(get_session)]


def is_connection_failure(exc: BaseException) -> bool:
    """Whether an error means "the database is not there", as opposed to a bad statement."""
    if isinstance(exc, PoolTimeoutError):
        return True
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    return False


async def _database_error(request: Request, exc: Exception) -> Any:
    if not is_connection_failure(exc):
        raise exc
    _count_unavailable(request, error=type(exc).__name__)
    unavailable = DatabaseUnavailableError()
    return problem_response(
        status=unavailable.status,
        scope=request.scope,
        detail=unavailable.detail,
        type_=f"urn:problem-type:{unavailable.code}",
        title=unavailable.title,
        headers=unavailable.headers,
    )


def _count_unavailable(request: Request, *, error: str) -> None:
    resources = request_chassis(request).open_resources
    if resources is None:  # not the app's database (it is closed): said as it comes
        _log.warning("database_unavailable", error=error, requests=1)
    else:
        resources.database.unavailable.add(error=error)


async def _connection_refused(request: Request, exc: Exception) -> Any:
    # No connection could be made (refused, timed out, the breaker open): said by its cause.
    assert isinstance(exc, DatabaseUnavailableError)
    cause = exc.__cause__
    _count_unavailable(request, error=type(cause or exc).__name__)
    return domain_error_response(request, exc)


def install_database_error_handlers(app: FastAPI) -> None:
    for error in (DBAPIError, PoolTimeoutError):
        app.add_exception_handler(error, _database_error)
    app.add_exception_handler(DatabaseUnavailableError, _connection_refused)
