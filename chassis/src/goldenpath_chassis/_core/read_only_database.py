"""A PostgreSQL that refuses writes: a standby reached through the primary's address.

After a switchover the old primary comes back as a hot standby, and until the address the
service uses (a DNS name, a Service's endpoints) names the new primary, connections opened
through it reach the standby: they work for reads, and every write fails with SQLSTATE 25006
("cannot execute ... in a read-only transaction"). Pre-ping cannot tell (the connection is
alive), so such connections would stay pooled until `DATABASE_POOL_RECYCLE_SECONDS` long
after the address had moved, and each write would be a 500.

A refused write is handled as a lost connection instead: the connection and every older pooled
one are invalidated (the next checkouts reconnect through the address as it is now), and the
request gets the 503 "database unavailable" problem. Said once a minute at most, as a flood,
by each engine; the writes not said yet when the engine is disposed (at shutdown) are said then.
"""

from __future__ import annotations

from sqlalchemy import event
from sqlalchemy.engine import Engine, ExceptionContext

from .logging import get_logger
from .throttled_line import ThrottledLine

READ_ONLY_SQL_TRANSACTION = "25006"

_log = get_logger(__name__)


def refused_as_read_only(error: BaseException) -> bool:
    # SQLAlchemy's asyncpg adapter copies the server's SQLSTATE onto its error.
    return getattr(error, "sqlstate", None) == READ_ONLY_SQL_TRANSACTION


def leave_read_only_servers(engine: Engine) -> None:
    refused_writes = ThrottledLine(_log, "database_read_only", count_name="refused_writes")

    @event.listens_for(engine, "engine_disposed")
    def _say_rest(_: Engine) -> None:
        refused_writes.say_rest()

    @event.listens_for(engine, "handle_error")
    def _read_only(context: ExceptionContext) -> None:
        if refused_as_read_only(context.original_exception):
            context.is_disconnect = True
            refused_writes.add()
