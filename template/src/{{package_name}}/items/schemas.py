"""API models for items (API-3, SEC-1): strict, bounded, and named by one scheme."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, Self
from uuid import UUID

from goldenpath_chassis.security import sanitized_html
from goldenpath_chassis.web import RequestModel, Text, name_field, omit_null
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from ..pagination import NextCursor

NAME_MAX_LENGTH = 100
DESCRIPTION_MAX_LENGTH = 2000
# Sanitized HTML escapes text (`&` becomes `&amp;`): what is stored may be up to five times what
# was sent, and is never cut (SEC-1).
DESCRIPTION_STORED_MAX_LENGTH = 5 * DESCRIPTION_MAX_LENGTH
PRICE_CENTS_MAX = 100_000_000

ItemStatus = Literal["pending", "active"]
ItemName = Annotated[str, name_field(NAME_MAX_LENGTH, "Blue widget")]
# Free text that a web page may render: stored sanitized (SEC-1), so it is inert everywhere.
ItemDescription = Annotated[
    Text,
    Field(max_length=DESCRIPTION_MAX_LENGTH, examples=["A widget, <em>in blue</em>."]),
    sanitized_html(DESCRIPTION_STORED_MAX_LENGTH),
]


def _json_integer(value: object) -> object:
    """Accept what JSON Schema calls an integer (1999 or 1999.0), never a string like "1999"."""
    if isinstance(value, str | bool):
        raise ValueError("must be a JSON number, not a string or boolean")
    return value


# The bounds come before the validator, so they are documented as minimum/maximum.
PriceCents = Annotated[
    int,
    Field(ge=0, le=PRICE_CENTS_MAX, description="Price in cents.", examples=[1999]),
    BeforeValidator(_json_integer),
]


class ItemCreate(RequestModel):
    name: ItemName
    description: ItemDescription = ""
    price_cents: PriceCents = 0
    category_id: UUID | None = None


class ItemUpdate(RequestModel):
    """A partial update: omitted fields keep their value; `category_id: null` clears it."""

    name: ItemName | None = Field(None, json_schema_extra=omit_null)
    description: ItemDescription | None = Field(None, json_schema_extra=omit_null)
    price_cents: PriceCents | None = Field(None, json_schema_extra=omit_null)
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
    next_cursor: NextCursor = None
