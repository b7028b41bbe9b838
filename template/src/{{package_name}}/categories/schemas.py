"""API models for categories."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

CATEGORY_NAME_MAX_LENGTH = 50

CategoryName = Annotated[
    str, Field(min_length=1, max_length=CATEGORY_NAME_MAX_LENGTH, examples=["Widgets"])
]


class CategoryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: CategoryName


class CategoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    created_at: datetime


class CategoryList(BaseModel):
    categories: list[CategoryRead]
