"""The items table. Its constraints repeat the rules of `schemas.py` (DB-3), so a row written
around the application (a script, a migration, a bug) cannot break them either.

Each item belongs to an owner (SEC-6): the principal or tenant that created it. Names are unique
per owner: what a user expects, and a global rule would tell one owner, by a 409, which names
another has used."""

from __future__ import annotations

import uuid

from goldenpath_chassis.data import Base, Timestamps, UUIDPrimaryKey
from goldenpath_chassis.security import OWNER_MAX_LENGTH
from sqlalchemy import (
    CheckConstraint,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from .schemas import DESCRIPTION_STORED_MAX_LENGTH, NAME_MAX_LENGTH, PRICE_CENTS_MAX


class Item(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "items"
    __table_args__ = (
        CheckConstraint(
            f"length(name) BETWEEN 1 AND {NAME_MAX_LENGTH} AND name = trim(name)",
            name="name_length",
        ),
        # Sanitized HTML: the escaped form of a description sent within its limit (SEC-1).
        CheckConstraint(
            f"length(description) <= {DESCRIPTION_STORED_MAX_LENGTH}", name="description_length"
        ),
        CheckConstraint(f"price_cents BETWEEN 0 AND {PRICE_CENTS_MAX}", name="price_range"),
        CheckConstraint("status IN ('pending', 'active')", name="status_known"),
        CheckConstraint(f"length(owner) BETWEEN 1 AND {OWNER_MAX_LENGTH}", name="owner_length"),
        CheckConstraint("version >= 1", name="version_positive"),
        UniqueConstraint("owner", "name"),
        # An item's category is its owner's (SEC-6): the key names the category and the owner,
        # so the service's check has the database behind it. RESTRICT: a category with items
        # cannot disappear under them. CASCADE: an operator who gives a category another owner
        # moves its items with it (docs/security.md).
        ForeignKeyConstraint(
            ["category_id", "owner"],
            ["categories.id", "categories.owner"],
            ondelete="RESTRICT",
            onupdate="CASCADE",
        ),
        # Lists are one owner's items in ID order.
        Index("ix_items_owner_id", "owner", "id"),
    )

    owner: Mapped[str] = mapped_column(String(OWNER_MAX_LENGTH))
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    description: Mapped[str] = mapped_column(String(DESCRIPTION_STORED_MAX_LENGTH), default="")
    price_cents: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    # Its foreign key is in `__table_args__`, with the owner. Indexed for the join.
    category_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    # Optimistic locking: every UPDATE says "WHERE version = <the version I read>".
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    # SQLAlchemy reads this mapping once, at class creation.
    __mapper_args__ = {"version_id_col": version, "eager_defaults": True}  # noqa: RUF012
