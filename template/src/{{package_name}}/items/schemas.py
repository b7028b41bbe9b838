"""API models for items (API-3, SEC-1): strict, bounded, and named by one scheme."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..core.security.sanitize import sanitized_html

NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 2000
PRICE_CENTS_MAX = 100_000_000
PAGE_SIZE_DEFAULT = 20
PAGE_SIZE_MAX = 100

ItemStatus = Literal["pending", "active"]
ItemName = Annotated[str, Field(min_length=1, max_length=NAME_MAX_LENGTH, examples=["Blue widget"])]
# Free text that a web page may render: stored sanitized (SEC-1), so it is inert everywhere.
ItemDescription = Annotated[
    str,
    Field(max_length=DESCRIPTION_MAX_LENGTH, examples=["A widget, <em>in blue</em>."]),
    sanitized_html(DESCRIPTION_MAX_LENGTH),
]
# strict: "12" or 12.0 is a client bug to report, not a number to guess.
PriceCents = Annotated[
    int,
    Field(strict=True, ge=0, le=PRICE_CENTS_MAX, description="Price in cents.", examples=[1999]),
]


class _Request(BaseModel):
    # Unknown fields are an error, not silently dropped: a typo must not look like success.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ItemCreate(_Request):
    name: ItemName
    description: ItemDescription = ""
    price_cents: PriceCents = 0
    category_id: UUID | None = None


def _omit_null(schema: dict[str, Any]) -> None:
    """Document an optional field as "may be omitted" rather than "may be null"."""
    variants = schema.pop("anyOf", [])
    schema.update(next((v for v in variants if v.get("type") != "null"), {}))
    schema.pop("default", None)


class ItemUpdate(_Request):
    """A partial update: omitted fields keep their value; `category_id: null` clears it."""

    name: ItemName | None = Field(None, json_schema_extra=_omit_null)
    description: ItemDescription | None = Field(None, json_schema_extra=_omit_null)
    price_cents: PriceCents | None = Field(None, json_schema_extra=_omit_null)
    category_id: UUID | None = None

    @model_validator(mode="after")
    def _no_null_for_required_columns(self) -> Self:
        nulls = [
            name
            for name in ("name", "description", "price_cents")
            if name in self.model_fields_set and getattr(self, name) is None
        ]
        if nulls:
            raise ValueError(f"{', '.join(nulls)} may be omitted but not null")
        return self


class ItemRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    description: str
    price_cents: int
    category_id: UUID | None
    status: ItemStatus = Field(
        description="`pending` until the background job has processed the new item."
    )
    version: int = Field(ge=1, description="Increases with every update; the ETag carries it.")
    created_at: datetime
    updated_at: datetime


class ItemPage(BaseModel):
    items: list[ItemRead]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` to get the next page; absent on the last page."
    )
