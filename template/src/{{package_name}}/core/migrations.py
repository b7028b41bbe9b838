"""Alembic, driven from code (DB-2): `python -m <package> migrate` and the tests use this.

The migration scripts live inside the package (`migrations/`), so they ship in the wheel and the
image and the migration Job runs exactly the code it deploys.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Connection

from .database import create_engine
from .settings import Settings

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


async def _run(settings: Settings, action: str, revision: str) -> None:
    engine = create_engine(settings)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_run_sync, action, revision)
    finally:
        await engine.dispose()


def _run_sync(connection: Connection, action: str, revision: str) -> None:
    config = alembic_config(connection)
    if action == "upgrade":
        command.upgrade(config, revision)
    else:
        command.downgrade(config, revision)


def upgrade(settings: Settings, revision: str = "head") -> None:
    asyncio.run(_run(settings, "upgrade", revision))


def downgrade(settings: Settings, revision: str) -> None:
    asyncio.run(_run(settings, "downgrade", revision))


async def upgrade_async(settings: Settings, revision: str = "head") -> None:
    await _run(settings, "upgrade", revision)


async def downgrade_async(settings: Settings, revision: str) -> None:
    await _run(settings, "downgrade", revision)
