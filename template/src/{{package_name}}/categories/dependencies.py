"""Wiring for the categories domain."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from goldenpath_chassis.data import DbSession

from .service import CategoryService


async def get_category_service(session: DbSession) -> CategoryService:
    return CategoryService(session)


CategoryServiceDep = Annotated[CategoryService, Depends(get_category_service)]
