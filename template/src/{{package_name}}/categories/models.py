"""The categories table. A category belongs to an owner, like an item (SEC-6), and its name is
unique per owner."""

from __future__ import annotations

from goldenpath_chassis.data import Base, Timestamps, UUIDPrimaryKey
from goldenpath_chassis.security import OWNER_MAX_LENGTH
from sqlalchemy import CheckConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .schemas import CATEGORY_NAME_MAX_LENGTH


class Category(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "categories"
    __table_args__ = (
        # The same rule as CategoryCreate.name: 1-50 characters, no surrounding blanks.
        CheckConstraint(
            f"length(name) BETWEEN 1 AND {CATEGORY_NAME_MAX_LENGTH} AND name = trim(name)",
            name="name_length",
        ),
        CheckConstraint(f"length(owner) BETWEEN 1 AND {OWNER_MAX_LENGTH}", name="owner_length"),
        # Also the index of the owner's list, by name.
        UniqueConstraint("owner", "name"),
        # What an item's foreign key names, so an item's category is its owner's (SEC-6).
        UniqueConstraint("id", "owner"),
    )
    # SQLAlchemy reads this mapping once, at class creation.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012

    owner: Mapped[str] = mapped_column(String(OWNER_MAX_LENGTH))
    name: Mapped[str] = mapped_column(String(CATEGORY_NAME_MAX_LENGTH))
