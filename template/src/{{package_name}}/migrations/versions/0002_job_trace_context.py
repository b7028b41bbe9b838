"""Jobs carry the trace context of the request that enqueued them (OBS-2).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Every migration has a working downgrade: tests run upgrade -> downgrade -> upgrade (DB-2).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("jobs", sa.Column("trace_context", sa.JSON(), nullable=True))


def downgrade() -> None:
    # Batch mode: SQLite rebuilds the table where it cannot drop a column in place.
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("trace_context")
