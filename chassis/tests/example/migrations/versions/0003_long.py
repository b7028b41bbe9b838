"""Migrations that run long or wait for a lock, for the tests, when asked; nothing otherwise.

With EXAMPLE_SLOW_MIGRATION_SECONDS=N, a statement that runs N seconds; with
EXAMPLE_ALTERING_MIGRATION=1, an ALTER TABLE of `widgets`, which waits for every lock on it
(tests/process/test_migration_timeouts_process.py); with EXAMPLE_DATA_MIGRATION_GATE=K, a data
migration: a row inserted into `data_migration_runs` (the test's table), then a wait for the
advisory lock K, which the test holds until it lets the migration finish
(tests/process/test_migration_lock_process.py).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import op

from goldenpath_chassis.logging import get_logger

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

SLOW_SECONDS = float(os.environ.get("EXAMPLE_SLOW_MIGRATION_SECONDS", "0"))
ALTERING = os.environ.get("EXAMPLE_ALTERING_MIGRATION") == "1"
DATA_GATE = int(os.environ.get("EXAMPLE_DATA_MIGRATION_GATE", "0"))


def upgrade() -> None:
    if SLOW_SECONDS:
        op.execute(sa.text(f"SELECT pg_sleep({SLOW_SECONDS})"))
    if ALTERING:
        # Said before the statement, so that the test knows it is about to wait.
        get_logger(__name__).info("altering_migration")
        op.add_column("widgets", sa.Column("altered", sa.Integer, nullable=True))
    if DATA_GATE:
        op.execute(sa.text("INSERT INTO data_migration_runs DEFAULT VALUES"))
        # Shared: without a lock around the runs, every run passes once the test opens it.
        op.execute(sa.text(f"SELECT pg_advisory_xact_lock_shared({DATA_GATE})"))


def downgrade() -> None:
    pass
