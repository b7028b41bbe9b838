"""Business rules for categories."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from goldenpath_chassis.data import violation_of
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from .exceptions import CategoryInUseError, CategoryNameTakenError, CategoryNotFoundError
from .models import Category
from .repository import CategoryRepository
from .schemas import CategoryCreate


class CategoryService:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._repository = CategoryRepository(session)

    async def create(self, data: CategoryCreate) -> Category:
        try:
            category = await self._repository.add(name=data.name)
            await self._session.commit()
        except IntegrityError as error:
            await self._session.rollback()
            if violation_of(error).kind == "unique":
                raise CategoryNameTakenError(data.name) from error
            raise
        return category

    async def get(self, category_id: uuid.UUID) -> Category:
        category = await self._repository.get(category_id)
        if category is None:
            raise CategoryNotFoundError(category_id)
        return category

    async def list_all(self) -> Sequence[Category]:
        return await self._repository.list_all()

    async def delete(self, category_id: uuid.UUID) -> None:
        category = await self.get(category_id)
        try:
            await self._repository.delete(category)
            await self._session.commit()
        except IntegrityError as error:
            await self._session.rollback()
            if violation_of(error).kind == "foreign_key":
                raise CategoryInUseError(category_id) from error
            raise
