"""Wiring for the items domain: `Annotated` aliases that routes use as parameter types."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..core.database import DbSession
from .service import ItemService


def get_item_service(session: DbSession, request: Request) -> ItemService:
    return ItemService(session, job_max_attempts=request.app.state.settings.job_max_attempts)


ItemServiceDep = Annotated[ItemService, Depends(get_item_service)]
