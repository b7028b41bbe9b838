"""What the commands that work on the database share (`api-keys`, `jobs`): a session, the
embedded database migrated first as `serve` does, and one line, never a traceback, when the
database cannot be used."""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from .settings import ChassisSettings
from .terminal_text import one_line

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from .service import Service

EXIT_FAILED = 1


@asynccontextmanager
async def command_session(
    settings: ChassisSettings, service: Service
) -> AsyncIterator[AsyncSession]:
    # Imported here: `--help` must stay fast, and only these commands need the database.
    from sqlalchemy.ext.asyncio import async_sessionmaker  # noqa: PLC0415

    from .database import create_engine  # noqa: PLC0415

    if settings.uses_embedded_database:
        # Quietly: stderr holds the command's answer, not the migration log.
        from .migrations import upgrade_async  # noqa: PLC0415

        logging.getLogger("alembic").setLevel(logging.WARNING)
        await upgrade_async(settings, location=service.migrations)
    engine = create_engine(settings)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            yield session
    finally:
        await engine.dispose()


def run_on_database[E: Exception](
    command: str,
    action: Coroutine[Any, Any, int],
    service: Service,
    *,
    refused: type[E],
    reason: Callable[[E], str] = str,
) -> int:
    """`action`'s exit code; a refusal (`refused`) or an unusable database is one line on
    stderr, prefixed with the command's name, and exit code 1."""
    from sqlalchemy.exc import SQLAlchemyError  # noqa: PLC0415

    try:
        return asyncio.run(action)
    except refused as error:
        # One line, escaped: a refusal may repeat what the operator typed (a scope's name).
        print(f"{command}: {one_line(reason(error))}", file=sys.stderr)
    except (SQLAlchemyError, OSError) as error:
        # Unreachable, or not migrated.
        print(
            f"{command}: the database cannot be used ({type(error).__name__}); check "
            f"DATABASE_URL and run `python -m {service.package} migrate`.",
            file=sys.stderr,
        )
    return EXIT_FAILED
