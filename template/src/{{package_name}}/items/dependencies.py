"""Wiring for the items domain: `Annotated` aliases that routes use as parameter types."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from .repository import ItemRepository
from .service import ItemService


def get_item_service(request: Request) -> ItemService:
    repository: ItemRepository = request.app.state.item_repository
    return ItemService(repository)


ItemServiceDep = Annotated[ItemService, Depends(get_item_service)]
