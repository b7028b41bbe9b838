"""Keyset pagination for the domains' lists (API-3): the page sizes and the opaque cursors.

A page ends at its last row; the cursor names that row by the keys the list is ordered by: the
id, and, for a list ordered by something else first (categories, by name), that value too. So
the next page starts right after it, whatever was added or removed meanwhile: a row that was
there all along is shown once, never twice or skipped. The cursor is base64url, unpadded: the
id's 16 bytes, then the value in UTF-8. Clients pass it back as it is; only this module reads it.
"""

from __future__ import annotations

import base64
import math
import re
import uuid
from typing import Annotated, NamedTuple

from fastapi import Query
from pydantic import Field, TypeAdapter

PAGE_SIZE_DEFAULT = 20
PAGE_SIZE_MAX = 100
_ID_BYTES = 16
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")

# The `limit` query parameter of every list: `limit: PageSize = PAGE_SIZE_DEFAULT`.
PageSize = Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)]
NextCursor = Annotated[
    str | None,
    Field(description="Pass as `cursor` to get the next page; `null` on the last page."),
]


class Keyset(NamedTuple):
    """Where a page ended: its last row's id, and the value the list orders by before the id
    (empty for a list ordered by id alone)."""

    id: uuid.UUID
    value: str = ""


def encode_cursor(last: Keyset) -> str:
    return base64.urlsafe_b64encode(last.id.bytes + last.value.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, value: TypeAdapter[str] | None = None) -> Keyset:
    """The keyset `encode_cursor` wrote; ValueError for anything else: not an id and text, or
    text that `value`, the rule of the list's sort key, refuses (a forged value must not reach
    a query: the database refuses a NUL, say, with an error of its own)."""
    try:
        # Checked first: the decoder would drop a character outside its alphabet silently.
        if not _BASE64URL.fullmatch(cursor):
            raise ValueError("not base64url")
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        keyset = Keyset(uuid.UUID(bytes=raw[:_ID_BYTES]), raw[_ID_BYTES:].decode())
        if value is not None:
            value.validate_python(keyset.value)
    # binascii.Error, UnicodeDecodeError and pydantic's ValidationError are ValueErrors.
    except ValueError:
        raise ValueError("not a cursor: pass `next_cursor` from the previous page") from None
    return keyset


def cursor_length(value_max_length: int) -> int:
    """The longest cursor of a list whose value is at most this many characters (each of them
    at most four bytes in UTF-8)."""
    return math.ceil((_ID_BYTES + 4 * value_max_length) * 4 / 3)
