"""Indexes PostgreSQL keeps but does not use, named after every `migrate` (DB-2).

A CREATE INDEX CONCURRENTLY that fails (a timeout, a duplicate under UNIQUE, a stopped Job)
leaves its index behind marked INVALID: no query uses it, every write still maintains it, and a
later `CREATE INDEX IF NOT EXISTS` takes it for built. Nothing else would say so.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from .database import DatabaseUnavailableError
from .logging import get_logger

# Also an index whose concurrent build is under way elsewhere at this moment.
_INVALID_INDEXES = text(
    "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_index i"
    " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE NOT i.indisvalid AND n.nspname NOT IN ('pg_catalog', 'information_schema')"
    " ORDER BY 1"
)

REMEDY = (
    "left by a CREATE INDEX CONCURRENTLY that failed: unused by queries, still updated by every "
    "write; DROP INDEX CONCURRENTLY each one, then build it again (docs/database.md)"
)


async def say_invalid_indexes(engine: AsyncEngine) -> None:
    """One warning naming the database's invalid indexes, if it has any (PostgreSQL only)."""
    if engine.dialect.name != "postgresql":
        return
    try:
        async with engine.connect() as connection:
            names = list((await connection.execute(_INVALID_INDEXES)).scalars())
    except (DBAPIError, DatabaseUnavailableError):
        return  # the run's own error says what is wrong with the database
    if names:
        get_logger(__name__).warning("migration_left_invalid_indexes", indexes=names, hint=REMEDY)
