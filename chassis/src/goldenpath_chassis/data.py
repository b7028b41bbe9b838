"""The database for a domain: models' base and mixins, the request's session, constraints."""

from ._core.database import Database, DbSession, request_session
from ._core.integrity import violation_of
from ._core.models import Base, Timestamps, UTCDateTime, UUIDPrimaryKey

__all__ = [
    "Base",
    "Database",
    "DbSession",
    "Timestamps",
    "UTCDateTime",
    "UUIDPrimaryKey",
    "request_session",
    "violation_of",
]
