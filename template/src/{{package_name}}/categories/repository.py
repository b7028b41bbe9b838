"""Category queries. Flushes, never commits: the service owns the transaction.

Every query is filtered by owner in its WHERE clause (SEC-6), as in `items/repository.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from goldenpath_chassis.security import OwnerAccess
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Category

MAX_CATEGORIES = 500


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

    async def list_all(self, access: OwnerAccess) -> Sequence[Category]:
        query = (
            select(Category)
            .where(access.criterion(Category.owner))
            .order_by(Category.name, Category.id)
            .limit(MAX_CATEGORIES)
        )
        categories = (await self._session.scalars(query)).all()
        access.reached(categories)
        return categories

    async def delete(self, category: Category) -> None:
        await self._session.delete(category)
        await self._session.flush()
