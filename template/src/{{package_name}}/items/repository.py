"""Item queries. Flushes, never commits: the service owns the transaction (ARCH-1).

Every query of items is filtered by owner (SEC-6): the caller's `OwnerAccess` puts its
criterion in the WHERE clause, so another owner's item is never loaded, let alone returned (a
check after loading is one forgotten `if` away from a leak). What the admin scope reaches of
other owners is logged by `access.reached`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from goldenpath_chassis.security import OwnerAccess
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ..categories.models import Category
from .models import Item


class ItemRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, access: OwnerAccess, item_id: uuid.UUID) -> Item | None:
        query = select(Item).where(Item.id == item_id, access.criterion(Item.owner))
        item = await self._session.scalar(query)
        if item is not None:
            access.reached([item])
        return item

    async def add(
        self,
        *,
        owner: str,
        name: str,
        description: str,
        price_cents: int,
        category_id: uuid.UUID | None,
    ) -> Item:
        item = Item(
            owner=owner,
            name=name,
            description=description,
            price_cents=price_cents,
            category_id=category_id,
        )
        self._session.add(item)
        await self._session.flush()
        return item

    async def page_after(
        self, access: OwnerAccess, *, after: uuid.UUID | None, size: int
    ) -> Sequence[Item]:
        """A page of `size` items, oldest first, and the next item if there is one (so the
        caller knows whether there is a next page). UUIDv7 keys are time-ordered, so the primary
        key is the cursor.

        Only the page's own items are logged as reached: the next one is not shown to the caller
        (the next page logs it when it is).
        """
        query = select(Item).where(access.criterion(Item.owner)).order_by(Item.id).limit(size + 1)
        if after is not None:
            query = query.where(Item.id > after)
        items = (await self._session.scalars(query)).all()
        access.reached(items[:size])
        return items

    async def has_category(self, owner: str, category_id: uuid.UUID) -> bool:
        """Whether `owner` has this category: an item's category is always its owner's."""
        query = select(Category.id).where(Category.id == category_id, Category.owner == owner)
        return await self._session.scalar(query) is not None

    async def flush(self) -> None:
        await self._session.flush()

    async def delete(self, item: Item) -> None:
        await self._session.delete(item)
        await self._session.flush()
