"""An item's category is its owner's (SEC-6), enforced by the database: the items' foreign key
names the category and the owner, `(category_id, owner)` -> `categories (id, owner)`.

The service checked it already, so rows it wrote pass. A row written around it (a script, a
data fix) that files an item in another owner's category stops the upgrade, with the count
and the statement that lists them; nothing is changed until they are fixed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CROSSED = (
    "SELECT items.id FROM items JOIN categories ON categories.id = items.category_id "
    "WHERE items.owner <> categories.owner"
)


class ItemsInAnotherOwnersCategoryError(RuntimeError):
    def __init__(self, count: int) -> None:
        # S608: the message quotes the queries that find and fix the rows; it is never run.
        super().__init__(
            f"{count} item(s) are filed in a category of another owner. "  # noqa: S608
            f"The upgrade needs each item's category to be its owner's: find them with "
            f"`{CROSSED}`, then give each its owner's category or none "
            "(`UPDATE items SET category_id = NULL WHERE id IN (...)`)."
        )


def upgrade() -> None:
    crossed = len(op.get_bind().execute(sa.text(CROSSED)).all())
    if crossed:
        raise ItemsInAnotherOwnersCategoryError(crossed)
    # Batch mode: SQLite rebuilds the table where it cannot change a constraint in place.
    with op.batch_alter_table("categories") as batch:
        batch.create_unique_constraint(op.f("uq_categories_id_owner"), ["id", "owner"])
    with op.batch_alter_table("items") as batch:
        batch.drop_constraint(op.f("fk_items_category_id_categories"), type_="foreignkey")
        batch.create_foreign_key(
            op.f("fk_items_category_id_owner_categories"),
            "categories",
            ["category_id", "owner"],
            ["id", "owner"],
            ondelete="RESTRICT",
            onupdate="CASCADE",
        )


def downgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.drop_constraint(op.f("fk_items_category_id_owner_categories"), type_="foreignkey")
        batch.create_foreign_key(
            op.f("fk_items_category_id_categories"),
            "categories",
            ["category_id"],
            ["id"],
            ondelete="RESTRICT",
        )
    with op.batch_alter_table("categories") as batch:
        batch.drop_constraint(op.f("uq_categories_id_owner"), type_="unique")
