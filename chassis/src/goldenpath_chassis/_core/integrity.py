"""Tell which database rule an IntegrityError broke, on PostgreSQL and on SQLite alike.

Services check the rules they can before writing, for clear errors; the database still has the
last word (DB-3), because a concurrent request can slip in between check and write. This module
turns its refusal back into something a service can map to a domain error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.exc import IntegrityError

ViolationKind = Literal["unique", "foreign_key", "check", "not_null", "unknown"]

# PostgreSQL SQLSTATE codes: https://www.postgresql.org/docs/current/errcodes-appendix.html
_SQLSTATE_KINDS: dict[str, ViolationKind] = {
    "23505": "unique",
    "23503": "foreign_key",
    "23514": "check",
    "23502": "not_null",
}
_SQLITE_MESSAGE = re.compile(r"(UNIQUE|FOREIGN KEY|CHECK|NOT NULL) constraint failed(?:: (.*))?")
_SQLITE_KINDS: dict[str, ViolationKind] = {
    "UNIQUE": "unique",
    "FOREIGN KEY": "foreign_key",
    "CHECK": "check",
    "NOT NULL": "not_null",
}


@dataclass(frozen=True)
class Violation:
    kind: ViolationKind
    target: str | None
    """The constraint name (PostgreSQL), or the column/constraint SQLite names, when known."""


def violation_of(error: IntegrityError) -> Violation:
    original = error.orig
    cause = getattr(original, "__cause__", None)
    sqlstate = getattr(original, "sqlstate", None) or getattr(cause, "sqlstate", None)
    if isinstance(sqlstate, str) and sqlstate in _SQLSTATE_KINDS:
        constraint = getattr(cause, "constraint_name", None)
        return Violation(_SQLSTATE_KINDS[sqlstate], constraint)
    match = _SQLITE_MESSAGE.search(str(original))
    if match:
        return Violation(_SQLITE_KINDS[match.group(1)], match.group(2))
    return Violation("unknown", None)
