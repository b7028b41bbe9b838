"""Category queries. Flushes, never commits: the service owns the transaction.

Every query is filtered by owner in its WHERE clause (SEC-6), as in `items/repository.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from goldenpath_chassis.security import OwnerAccess
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ..pagination import Keyset
from .models import Category


class CategoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, access: OwnerAccess, category_id: uuid.UUID) -> Category | None:
        query = select(Category).where(Category.id == category_id, access.criterion(Category.owner))
        category = await self._session.scalar(query)
        if category is not None:
            access.reached([category])
        return category

    async def add(self, *, owner: str, name: str) -> Category:
        category = Category(owner=owner, name=name)
        self._session.add(category)
        await self._session.flush()
        return category

    async def page_after(
        self, access: OwnerAccess, *, after: Keyset | None, size: int
    ) -> Sequence[Category]:
        """A page of `size` categories by name, and the next one if there is one (so the caller
        knows whether there is a next page), as `ItemRepository.page_after`. The id breaks ties:
        an admin's list holds one name once per owner. The keyset is a row comparison, which
        sorts as ORDER BY does (the same collation).
        """
        query = (
            select(Category)
            .where(access.criterion(Category.owner))
            .order_by(Category.name, Category.id)
            .limit(size + 1)
        )
        if after is not None:
            query = query.where(tuple_(Category.name, Category.id) > tuple_(after.value, after.id))
        categories = (await self._session.scalars(query)).all()
        access.reached(categories[:size])
        return categories

    async def delete(self, category: Category) -> None:
        await self._session.delete(category)
        await self._session.flush()
