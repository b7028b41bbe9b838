"""items.description holds sanitized HTML (SEC-1): room for the escaped form of its input.

Sanitizing escapes text (`&` becomes `&amp;`), so 2000 characters sent may be up to 10000
stored; the limit on what clients send (2000) is unchanged. Downgrading fails while a stored
description is longer than 2000 characters: shorten those rows first.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _set_limit(old: int, new: int) -> None:
    # Batch mode: SQLite cannot alter a column or a CHECK in place, so the table is rebuilt.
    with op.batch_alter_table("items") as batch:
        batch.drop_constraint(op.f("ck_items_description_length"), type_="check")
        batch.alter_column(
            "description",
            existing_type=sa.String(length=old),
            type_=sa.String(length=new),
            existing_nullable=False,
        )
        batch.create_check_constraint("description_length", f"length(description) <= {new}")


def upgrade() -> None:
    _set_limit(2000, 10000)


def downgrade() -> None:
    _set_limit(10000, 2000)
