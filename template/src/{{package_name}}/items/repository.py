"""Item queries. Flushes, never commits: the service owns the transaction (ARCH-1)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Item


class ItemRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, item_id: uuid.UUID) -> Item | None:
        return await self._session.get(Item, item_id)

    async def add(
        self, *, name: str, description: str, price_cents: int, category_id: uuid.UUID | None
    ) -> Item:
        item = Item(
            name=name, description=description, price_cents=price_cents, category_id=category_id
        )
        self._session.add(item)
        await self._session.flush()
        return item

    async def list_after(self, *, after: uuid.UUID | None, limit: int) -> Sequence[Item]:
        """Oldest first; UUIDv7 keys are time-ordered, so the primary key is the cursor."""
        query = select(Item).order_by(Item.id).limit(limit)
        if after is not None:
            query = query.where(Item.id > after)
        return (await self._session.scalars(query)).all()

    async def flush(self) -> None:
        await self._session.flush()

    async def delete(self, item: Item) -> None:
        await self._session.delete(item)
        await self._session.flush()
