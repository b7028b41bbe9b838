"""The categories table."""

from __future__ import annotations

from goldenpath_chassis.data import Base, Timestamps, UUIDPrimaryKey
from sqlalchemy import CheckConstraint, String
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
    )
    # SQLAlchemy reads this mapping once, at class creation.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012

    name: Mapped[str] = mapped_column(String(CATEGORY_NAME_MAX_LENGTH), unique=True)
