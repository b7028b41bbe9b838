"""Category queries. Flushes, never commits: the service owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .models import Category

MAX_CATEGORIES = 500


class CategoryRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, category_id: uuid.UUID) -> Category | None:
        return await self._session.get(Category, category_id)

    async def add(self, *, name: str) -> Category:
        category = Category(name=name)
        self._session.add(category)
        await self._session.flush()
        return category

    async def list_all(self) -> Sequence[Category]:
        result = await self._session.scalars(
            select(Category).order_by(Category.name).limit(MAX_CATEGORIES)
        )
        return result.all()

    async def delete(self, category: Category) -> None:
        await self._session.delete(category)
        await self._session.flush()
