"""API models for categories."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from goldenpath_chassis.web import RequestModel, name_field
from pydantic import BaseModel, ConfigDict

from ..pagination import NextCursor

CATEGORY_NAME_MAX_LENGTH = 50

CategoryName = Annotated[str, name_field(CATEGORY_NAME_MAX_LENGTH, "Widgets")]


class CategoryCreate(RequestModel):
    name: CategoryName


class CategoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str
    created_at: datetime


class CategoryPage(BaseModel):
    categories: list[CategoryRead]
    next_cursor: NextCursor = None
