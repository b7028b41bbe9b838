"""Background work for items, run by the worker process (ARCH-3).

A new item is `pending` until its job has run; the job publishes it (`active`). The job is
enqueued in the same transaction that creates the item, so it runs exactly when the item exists.
The worker acts for no principal, so it reads the item by its ID alone.
"""

from __future__ import annotations

import uuid
from typing import Any

from goldenpath_chassis.cache import invalidate_after_commit, invalidate_group_after_commit
from goldenpath_chassis.logging import get_logger
from sqlalchemy.ext.asyncio import AsyncSession

from .cache import ITEM_CACHE, PAGE_CACHE, item_key
from .models import Item

PUBLISH_ITEM = "items.publish"

_log = get_logger(__name__)


async def publish_item(session: AsyncSession, payload: dict[str, Any]) -> None:
    item = await session.get(Item, uuid.UUID(payload["item_id"]))
    if item is None:
        _log.info("publish_skipped_item_deleted", item_id=payload["item_id"])
        return
    if item.status == "pending":
        item.status = "active"
        await session.flush()
        invalidate_after_commit(session, ITEM_CACHE, item_key(item.owner, item.id))
        invalidate_group_after_commit(session, PAGE_CACHE, item.owner)
