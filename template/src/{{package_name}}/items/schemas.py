"""API models for items (API-3, SEC-1): strict, bounded, and named by one scheme."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from ..core.security.sanitize import sanitized_html

NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 2000
PAGE_SIZE_DEFAULT = 20
PAGE_SIZE_MAX = 100

ItemName = Annotated[
    str,
    Field(min_length=1, max_length=NAME_MAX_LENGTH, examples=["Blue widget"]),
]
# Free text that a web page may render: stored sanitized (SEC-1), so it is inert everywhere.
ItemDescription = Annotated[
    str,
    Field(max_length=DESCRIPTION_MAX_LENGTH, examples=["A widget, <em>in blue</em>."]),
    sanitized_html(DESCRIPTION_MAX_LENGTH),
]


class _Request(BaseModel):
    # Unknown fields are an error, not silently dropped: a typo must not look like success.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ItemCreate(_Request):
    name: ItemName
    description: ItemDescription = ""


class ItemUpdate(_Request):
    """A partial update: omitted fields keep their value."""

    name: ItemName | None = None
    description: ItemDescription | None = None


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    description: str
    version: int = Field(ge=1, description="Increases with every update; the ETag carries it.")
    created_at: datetime
    updated_at: datetime


class ItemPage(BaseModel):
    items: list[ItemRead]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next page; absent on the last page."
    )
