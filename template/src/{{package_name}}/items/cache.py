"""The items' place in the cache (PERF-1): `GET /v1/items/{id}` reads through it.

Entries are `ItemRead` documents keyed by owner and item ID (`item_key`), so a cached item is
only ever found by a read of its owner (SEC-6). Every path that changes an item invalidates its
entry after the change commits: the service's update and delete, and the worker's publish job
(through `invalidate_after_commit`). Bump the version in the name when `ItemRead` changes
shape, so a deployment never decodes the previous one's entries.
"""

from __future__ import annotations

import uuid

from goldenpath_chassis.cache import Cache, CachedResource, JsonCodec

from .schemas import ItemRead

ITEM_CACHE = "items:v1"
_CODEC = JsonCodec(ItemRead)


def item_cache(cache: Cache) -> CachedResource[ItemRead]:
    return cache.resource(ITEM_CACHE, _CODEC)


def item_key(owner: str, item_id: uuid.UUID) -> str:
    return f"{owner}/{item_id}"
