"""An API key may act for another owner (SEC-6): the owner of the key it replaced
(`api-keys create --owner-of`), so a rotation keeps the caller's objects, or a tenant's
(`--tenant`). NULL, as for every key already there, is the key's own `key:<key id>`.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite rebuilds the table to add a check constraint.
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("owner", sa.String(length=300), nullable=True))
        batch.create_check_constraint("owner_length", "length(owner) BETWEEN 1 AND 300")


def downgrade() -> None:
    # The keys made to act for another owner go back to owning only what they create.
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_constraint(op.f("ck_api_keys_owner_length"), type_="check")
        batch.drop_column("owner")
