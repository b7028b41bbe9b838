"""The items' place in the cache (PERF-1): `GET /v1/items/{id}` reads through it.

Entries are `ItemRead` documents keyed by item ID. Every path that changes an item invalidates
its entry after the change commits: the service's update and delete, and the worker's publish
job (through `invalidate_after_commit`). Bump the version in the name when `ItemRead` changes
shape, so a deployment never decodes the previous one's entries.
"""

from __future__ import annotations

from goldenpath_chassis.cache import Cache, CachedResource, JsonCodec

from .schemas import ItemRead

ITEM_CACHE = "items:v1"
_CODEC = JsonCodec(ItemRead)


def item_cache(cache: Cache) -> CachedResource[ItemRead]:
    return cache.resource(ITEM_CACHE, _CODEC)
