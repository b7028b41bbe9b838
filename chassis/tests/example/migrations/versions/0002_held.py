"""A migration held in the middle for the tests, when asked; nothing otherwise.

With EXAMPLE_HELD_MIGRATION=1, a table, then a statement that waits until stopped, for the test
of a signal during a migration (tests/process/test_signal_as_pid1_process.py).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import op

from goldenpath_chassis.logging import get_logger

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

HELD = os.environ.get("EXAMPLE_HELD_MIGRATION") == "1"


def upgrade() -> None:
    if not HELD:
        return
    op.create_table("held_migration", sa.Column("id", sa.Integer, primary_key=True))
    # Said once the table is made, so that the test signals the process in the middle.
    get_logger(__name__).info("held_migration")
    op.execute(sa.text("SELECT pg_sleep(600)"))


def downgrade() -> None:
    pass
