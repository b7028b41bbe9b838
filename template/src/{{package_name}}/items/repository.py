"""Item storage. Queries only: the service decides what they mean."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime


@dataclass(frozen=True)
class Item:
    id: uuid.UUID
    name: str
    description: str
    version: int
    created_at: datetime
    updated_at: datetime


class ItemRepository:
    """In-process storage for the example resource (the data layer replaces it)."""

    def __init__(self) -> None:
        self._items: dict[uuid.UUID, Item] = {}

    async def get(self, item_id: uuid.UUID) -> Item | None:
        return self._items.get(item_id)

    async def name_exists(self, name: str, *, excluding: uuid.UUID | None = None) -> bool:
        return any(i.name == name and i.id != excluding for i in self._items.values())

    async def add(self, *, name: str, description: str) -> Item:
        now = datetime.now(UTC)
        item = Item(uuid.uuid4(), name, description, 1, now, now)
        self._items[item.id] = item
        return item

    async def list_after(self, *, after: uuid.UUID | None, limit: int) -> list[Item]:
        ordered = sorted(self._items.values(), key=lambda i: (i.created_at, i.id))
        if after is not None and after in self._items:
            anchor = self._items[after]
            ordered = [i for i in ordered if (i.created_at, i.id) > (anchor.created_at, anchor.id)]
        return ordered[:limit]

    async def update(self, item: Item, *, name: str, description: str) -> Item:
        updated = replace(
            item,
            name=name,
            description=description,
            version=item.version + 1,
            updated_at=datetime.now(UTC),
        )
        self._items[item.id] = updated
        return updated

    async def delete(self, item: Item) -> None:
        self._items.pop(item.id, None)
