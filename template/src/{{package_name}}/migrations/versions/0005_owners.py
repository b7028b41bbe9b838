"""Items and categories belong to an owner (SEC-6); their names are unique per owner.

Rows from before this migration belong to no principal: their owner is `unowned`, which no
principal's owner can be (those are `user:...`, `key:...` or `tenant:...`). Only the admin scopes
(`items:admin`, `categories:admin`) reach them, until an operator gives them their owner:

    UPDATE items SET owner = 'user:<sub>' WHERE owner = 'unowned';

Since `0006` an item's category must be its owner's: give the categories their owner first
(their items follow them), then the items without a category, as docs/security.md shows.

Downgrading fails while two owners have an item (or a category) of the same name: the names were
unique across the whole table before. Rename one of each pair first.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNOWNED = "unowned"
OWNER = sa.String(length=300)


def upgrade() -> None:
    for table in ("categories", "items"):
        # The default fills the rows already there; new rows must name their owner.
        op.add_column(table, sa.Column("owner", OWNER, nullable=False, server_default=UNOWNED))
        # Batch mode: SQLite rebuilds the table where it cannot change a constraint in place.
        with op.batch_alter_table(table) as batch:
            batch.alter_column(
                "owner", existing_type=OWNER, existing_nullable=False, server_default=None
            )
            batch.drop_constraint(op.f(f"uq_{table}_name"), type_="unique")
            batch.create_unique_constraint(op.f(f"uq_{table}_owner_name"), ["owner", "name"])
            batch.create_check_constraint("owner_length", "length(owner) BETWEEN 1 AND 300")
    op.create_index("ix_items_owner_id", "items", ["owner", "id"])


def downgrade() -> None:
    op.drop_index("ix_items_owner_id", table_name="items")
    for table in ("items", "categories"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"ck_{table}_owner_length"), type_="check")
            batch.drop_constraint(op.f(f"uq_{table}_owner_name"), type_="unique")
            batch.create_unique_constraint(op.f(f"uq_{table}_name"), ["name"])
            batch.drop_column("owner")
