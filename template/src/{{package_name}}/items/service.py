"""Business rules for items. Owns the transaction; raises domain errors; knows nothing of HTTP.

Every operation is a principal's (SEC-6): it reaches that principal's items (or its tenant's),
and the admin scope, `items:admin`, reaches every owner's, each such access logged. Another
owner's item is "not found", exactly like one that does not exist.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence

from goldenpath_chassis.cache import CachedResource
from goldenpath_chassis.data import violation_of
from goldenpath_chassis.jobs import enqueue, enqueue_webhook
from goldenpath_chassis.security import OwnerAccess, Ownership, Principal
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from .cache import item_key, page_key
from .exceptions import (
    ItemConcurrentUpdateError,
    ItemNameTakenError,
    ItemNotFoundError,
    ItemVersionMismatchError,
    UnknownCategoryError,
)
from .jobs import PUBLISH_ITEM
from .models import Item
from .repository import ItemRepository
from .schemas import ItemCreate, ItemRead, ItemUpdate

OWNERSHIP = Ownership(domain="items", admin_scope="items:admin")


class ItemService:
    def __init__(
        self,
        session: AsyncSession,
        *,
        cache: CachedResource[ItemRead] | None = None,
        pages: CachedResource[list[ItemRead]] | None = None,
        job_max_attempts: int = 5,
        webhooks: bool = False,
    ) -> None:
        self._session = session
        self._repository = ItemRepository(session)
        self._cache = cache
        self._pages = pages
        self._job_max_attempts = job_max_attempts
        self._webhooks = webhooks

    async def create(self, principal: Principal, data: ItemCreate) -> Item:
        # A new item is its creator's, whatever scopes the creator holds.
        await self._require_category(principal.owner, data.category_id)
        try:
            item = await self._repository.add(
                owner=principal.owner,
                name=data.name,
                description=data.description,
                price_cents=data.price_cents,
                category_id=data.category_id,
            )
            # Same transaction as the item: the job exists exactly when the item does.
            enqueue(
                self._session,
                PUBLISH_ITEM,
                {"item_id": str(item.id)},
                max_attempts=self._job_max_attempts,
            )
            if self._webhooks:
                # An outside system hears of the item exactly when it exists, resiliently.
                event = ItemRead.model_validate(item).model_dump(mode="json")
                enqueue_webhook(
                    self._session, "item.created", event, max_attempts=self._job_max_attempts
                )
            await self._session.commit()
        except IntegrityError as error:
            await self._session.rollback()
            raise self._domain_error(error, data.name, data.category_id) from error
        await self._invalidate(principal.owner)
        return item

    async def get(self, principal: Principal, item_id: uuid.UUID) -> ItemRead:
        """One item, read through the cache (PERF-1); writes never use this copy."""
        access = OWNERSHIP.access(principal, "read")
        own = access.own_only()

        async def load() -> ItemRead | None:
            item = await self._repository.get(own, item_id)
            return None if item is None else ItemRead.model_validate(item)

        key = item_key(principal.owner, item_id)
        found = await (self._cache.get_or_load(key, load) if self._cache else load())
        if found is None and access.all_owners:
            # Another owner's item, for the admin scope: read and logged, never cached.
            item = await self._repository.get(access, item_id)
            found = None if item is None else ItemRead.model_validate(item)
        if found is None:
            raise ItemNotFoundError(item_id)
        return found

    async def list(
        self, principal: Principal, *, after: uuid.UUID | None, limit: int
    ) -> tuple[Sequence[ItemRead], bool]:
        """One page, read through the cache (PERF-1), and whether there are more."""
        access = OWNERSHIP.access(principal, "list")

        async def load() -> list[ItemRead]:
            items = await self._repository.page_after(access, after=after, size=limit)
            return [ItemRead.model_validate(item) for item in items]

        if self._pages is None or access.all_owners:
            # Every owner's items, for the admin scope: read, logged, never cached.
            found = await load()
        else:
            key = page_key(after, limit)
            found = await self._pages.get_or_load(key, load, group=principal.owner) or []
        return found[:limit], len(found) > limit

    async def update(
        self,
        principal: Principal,
        item_id: uuid.UUID,
        data: ItemUpdate,
        *,
        expected_version: int | None = None,
    ) -> Item:
        access = OWNERSHIP.access(principal, "update")
        item = await self._get_at_version(access, item_id, expected_version)
        changes = data.model_dump(exclude_unset=True)
        if "category_id" in changes:
            await self._require_category(item.owner, changes["category_id"])
        for field, value in changes.items():
            setattr(item, field, value)
        # Read before a rollback can expire them (a lazy load is not possible in async code).
        name, category_id, owner = item.name, item.category_id, item.owner
        try:
            await self._repository.flush()
            await self._session.commit()
        except StaleDataError as error:
            await self._session.rollback()
            raise ItemConcurrentUpdateError(item_id) from error
        except IntegrityError as error:
            await self._session.rollback()
            raise self._domain_error(error, name, category_id) from error
        await self._invalidate(owner, item_id)
        return item

    async def delete(
        self, principal: Principal, item_id: uuid.UUID, *, expected_version: int | None = None
    ) -> None:
        access = OWNERSHIP.access(principal, "delete")
        item = await self._get_at_version(access, item_id, expected_version)
        owner = item.owner
        try:
            await self._repository.delete(item)
            await self._session.commit()
        except StaleDataError as error:
            await self._session.rollback()
            raise ItemConcurrentUpdateError(item_id) from error
        await self._invalidate(owner, item_id)

    async def _invalidate(self, owner: str, item_id: uuid.UUID | None = None) -> None:
        """The item's entry, if it had one, and its owner's list pages. After the commit, never
        before: a read in between would cache the old rows again. Shielded, so a client hanging
        up cannot cancel it between the commit and here."""
        if self._cache is not None and item_id is not None:
            await asyncio.shield(self._cache.invalidate(item_key(owner, item_id)))
        if self._pages is not None:
            await asyncio.shield(self._pages.invalidate_group(owner))

    async def _get_at_version(
        self, access: OwnerAccess, item_id: uuid.UUID, expected_version: int | None
    ) -> Item:
        # Writes start from the database's row, never from the cache.
        item = await self._repository.get(access, item_id)
        if item is None:
            raise ItemNotFoundError(item_id)
        if expected_version is not None and item.version != expected_version:
            raise ItemVersionMismatchError(item_id, item.version)
        return item

    async def _require_category(self, owner: str, category_id: uuid.UUID | None) -> None:
        """An item's category is its owner's; another owner's is as unknown as a missing one."""
        if category_id is not None and not await self._repository.has_category(owner, category_id):
            raise UnknownCategoryError(category_id)

    @staticmethod
    def _domain_error(error: IntegrityError, name: str, category_id: uuid.UUID | None) -> Exception:
        violation = violation_of(error)
        if violation.kind == "unique":
            return ItemNameTakenError(name)
        if violation.kind == "foreign_key" and category_id is not None:
            return UnknownCategoryError(category_id)
        return error
