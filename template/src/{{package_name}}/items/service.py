"""Business rules for items. Raises domain errors; knows nothing of HTTP."""

from __future__ import annotations

import uuid

from .exceptions import ItemNameTakenError, ItemNotFoundError
from .repository import Item, ItemRepository
from .schemas import ItemCreate, ItemUpdate


class ItemService:
    def __init__(self, repository: ItemRepository) -> None:
        self._repository = repository

    async def create(self, data: ItemCreate) -> Item:
        if await self._repository.name_exists(data.name):
            raise ItemNameTakenError(data.name)
        return await self._repository.add(name=data.name, description=data.description)

    async def get(self, item_id: uuid.UUID) -> Item:
        item = await self._repository.get(item_id)
        if item is None:
            raise ItemNotFoundError(item_id)
        return item

    async def list(self, *, after: uuid.UUID | None, limit: int) -> tuple[list[Item], bool]:
        """One page, and whether there are more."""
        items = await self._repository.list_after(after=after, limit=limit + 1)
        return items[:limit], len(items) > limit

    async def update(self, item_id: uuid.UUID, data: ItemUpdate) -> Item:
        item = await self.get(item_id)
        name = data.name if data.name is not None else item.name
        if name != item.name and await self._repository.name_exists(name, excluding=item.id):
            raise ItemNameTakenError(name)
        description = data.description if data.description is not None else item.description
        return await self._repository.update(item, name=name, description=description)

    async def delete(self, item_id: uuid.UUID) -> None:
        await self._repository.delete(await self.get(item_id))
