"""Business rules for categories: each operation is a principal's, and reaches its categories
only, or every owner's with `categories:admin` (SEC-6, as for items)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from goldenpath_chassis.data import violation_of
from goldenpath_chassis.security import OwnerAccess, Ownership, Principal
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..pagination import Keyset
from .exceptions import CategoryInUseError, CategoryNameTakenError, CategoryNotFoundError
from .models import Category
from .repository import CategoryRepository
from .schemas import CategoryCreate

OWNERSHIP = Ownership(domain="categories", admin_scope="categories:admin")


class CategoryService:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._repository = CategoryRepository(session)

    async def create(self, principal: Principal, data: CategoryCreate) -> Category:
        try:
            category = await self._repository.add(owner=principal.owner, name=data.name)
            await self._session.commit()
        except IntegrityError as error:
            await self._session.rollback()
            if violation_of(error).kind == "unique":
                raise CategoryNameTakenError(data.name) from error
            raise
        return category

    async def get(self, principal: Principal, category_id: uuid.UUID) -> Category:
        return await self._find(OWNERSHIP.access(principal, "read"), category_id)

    async def list(
        self, principal: Principal, *, after: Keyset | None, limit: int
    ) -> tuple[Sequence[Category], bool]:
        """One page, by name, and whether there are more."""
        access = OWNERSHIP.access(principal, "list")
        categories = await self._repository.page_after(access, after=after, size=limit)
        return categories[:limit], len(categories) > limit

    async def delete(self, principal: Principal, category_id: uuid.UUID) -> None:
        category = await self._find(OWNERSHIP.access(principal, "delete"), category_id)
        try:
            await self._repository.delete(category)
            await self._session.commit()
        except IntegrityError as error:
            await self._session.rollback()
            if violation_of(error).kind == "foreign_key":
                raise CategoryInUseError(category_id) from error
            raise

    async def _find(self, access: OwnerAccess, category_id: uuid.UUID) -> Category:
        category = await self._repository.get(access, category_id)
        if category is None:
            raise CategoryNotFoundError(category_id)
        return category
