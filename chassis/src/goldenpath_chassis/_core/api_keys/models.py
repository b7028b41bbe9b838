"""The api_keys table: one row per key, never the key itself (SEC-3, DB-3)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from ..models import Base, Timestamps, UTCDateTime, UUIDPrimaryKey
from ..security.api_keys import KEY_ID_LENGTH
from ..security.ownership import OWNER_MAX_LENGTH

NAME_MAX_LENGTH = 100
SCOPES_MAX_LENGTH = 2000
SHA256_HEX_LENGTH = 64


class ApiKey(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(f"length(key_id) = {KEY_ID_LENGTH}", name="key_id_length"),
        CheckConstraint(f"length(secret_hash) = {SHA256_HEX_LENGTH}", name="secret_hash_length"),
        CheckConstraint(
            f"length(name) BETWEEN 1 AND {NAME_MAX_LENGTH} AND name = trim(name)",
            name="name_length",
        ),
        CheckConstraint(f"length(owner) BETWEEN 1 AND {OWNER_MAX_LENGTH}", name="owner_length"),
    )
    # SQLAlchemy reads this mapping once, at class creation.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012

    # The lookup half of the key, in clear: unique, so the index finds one row.
    key_id: Mapped[str] = mapped_column(String(KEY_ID_LENGTH), unique=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX_LENGTH))
    secret_hash: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH))
    # Space-separated, like the `scope` claim of a token.
    scopes: Mapped[str] = mapped_column(String(SCOPES_MAX_LENGTH), default="")
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Whose objects the key reaches (SEC-6), when not its own (`key:<key id>`, NULL here): the
    # key it replaced's owner (`--owner-of`), or a tenant's (`--tenant`).
    owner: Mapped[str | None] = mapped_column(String(OWNER_MAX_LENGTH), nullable=True)
