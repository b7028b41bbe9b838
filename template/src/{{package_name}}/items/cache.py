"""The items' place in the cache (PERF-1): `GET /v1/items/{id}` and `GET /v1/items` read
through it.

Items are `ItemRead` documents keyed by owner and item ID (`item_key`); list pages are the
`ItemRead`s of one page (and the next item, if any), keyed by cursor and size in a group per
owner. So a cached item or page is only ever found by a read of its owner (SEC-6). Every path
that changes an item invalidates, after the change commits, its entry and its owner's pages:
the service's create, update and delete, and the worker's publish job (through
`invalidate_after_commit` and `invalidate_group_after_commit`). Bump the version in a name when
`ItemRead` changes shape, so a deployment never decodes the previous one's entries.
"""

from __future__ import annotations

import uuid

from goldenpath_chassis.cache import Cache, CachedResource, JsonCodec

from .schemas import ItemRead

ITEM_CACHE = "items:v1"
PAGE_CACHE = "item-pages:v1"
_CODEC = JsonCodec(ItemRead)
_PAGE_CODEC = JsonCodec(list[ItemRead])


def item_cache(cache: Cache) -> CachedResource[ItemRead]:
    return cache.resource(ITEM_CACHE, _CODEC)


def page_cache(cache: Cache) -> CachedResource[list[ItemRead]]:
    return cache.resource(PAGE_CACHE, _PAGE_CODEC)


def item_key(owner: str, item_id: uuid.UUID) -> str:
    return f"{owner}/{item_id}"


def page_key(after: uuid.UUID | None, size: int) -> str:
    """A page of an owner's list (the owner is its group): where it starts, and its size."""
    return f"{after or 'first'}/{size}"
