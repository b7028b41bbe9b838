"""A PostgreSQL that stops answering without closing anything: a frozen host, a partition.

Its `statement_timeout` cannot fire on a server that is not running, so asyncpg is given a
timeout of its own for every answer (`DatabaseSettings.client_timeout_seconds`, a margin above
the statement timeout, so that on a live server the server's cancel comes first and leaves the
connection clean). When the driver's timeout fires, the connection's state is unknown (a cancel
is in flight, the statement may still run): it is invalidated, never returned to the pool, and
the error is a connection failure, answered with the 503 problem a refused connection gets.

An invalidated connection is closed gracefully by SQLAlchemy (up to 2 s), and asyncpg's graceful
close first waits for the server to acknowledge the cancel, which a frozen server never does. A
connection invalidated over a timeout or a cancellation (readiness's deadline) is aborted at once.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import ConnectionPoolEntry


def unanswered(error: BaseException | None) -> bool:
    """Whether `error`, or what caused it, is a wait that was given up: the driver's timeout, or
    a cancellation (a deadline around the caller)."""
    while error is not None:
        if isinstance(error, TimeoutError | asyncio.CancelledError):
            return True
        error = error.__cause__
    return False


def discard_unanswered_connections(engine: Engine) -> None:
    @event.listens_for(engine, "handle_error")
    def _timed_out(context: ExceptionContext) -> BaseException | None:
        # asyncpg's timeout reaches SQLAlchemy unwrapped: a plain TimeoutError.
        error = context.original_exception
        if not isinstance(error, TimeoutError):
            return None
        # Invalidates this connection, and the pool's older ones as for a lost database.
        context.is_disconnect = True
        return OperationalError(
            context.statement, None, error, hide_parameters=True, connection_invalidated=True
        )

    @event.listens_for(engine, "invalidate")
    def _abort(_: Any, record: ConnectionPoolEntry, error: BaseException | None) -> None:
        if unanswered(error) and record.driver_connection is not None:
            record.driver_connection.terminate()
