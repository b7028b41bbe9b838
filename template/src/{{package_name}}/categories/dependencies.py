"""Wiring for the categories domain."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from goldenpath_chassis.data import request_session

from .service import CategoryService


async def get_category_service(request: Request) -> CategoryService:
    return CategoryService(request_session(request))


CategoryServiceDep = Annotated[CategoryService, Depends(get_category_service)]
