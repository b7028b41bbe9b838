"""The items' place in the cache (PERF-1): `GET /v1/items/{id}` and `GET /v1/items` read
through it.

Items are `ItemRead` documents keyed by owner and item ID (`item_key`); list pages are the
`ItemRead`s of one page (and the next item, if any), keyed by cursor and size in a group per
owner. So a cached item or page is only ever found by a read of its owner (SEC-6). Every path
that changes an item invalidates, after the change commits, its entry and its owner's pages:
the service's create, update and delete, and the worker's publish job (through
`invalidate_after_commit` and `invalidate_group_after_commit`). Each name carries the
fingerprint of its cached shape (`JsonCodec.versioned`): a deployment that changes `ItemRead`
reads and writes entries of its own, and never decodes another shape's.
"""

from __future__ import annotations

import uuid

from goldenpath_chassis.cache import Cache, CachedResource, JsonCodec

from .schemas import ItemRead

_CODEC = JsonCodec(ItemRead)
_PAGE_CODEC = JsonCodec(list[ItemRead])
ITEM_CACHE = _CODEC.versioned("items")
PAGE_CACHE = _PAGE_CODEC.versioned("item-pages")


def item_cache(cache: Cache) -> CachedResource[ItemRead]:
    return cache.resource(ITEM_CACHE, _CODEC)


def page_cache(cache: Cache) -> CachedResource[list[ItemRead]]:
    return cache.resource(PAGE_CACHE, _PAGE_CODEC)


def item_key(owner: str, item_id: uuid.UUID) -> str:
    return f"{owner}/{item_id}"


def page_key(after: uuid.UUID | None, size: int) -> str:
    """A page of an owner's list (the owner is its group): where it starts, and its size."""
    return f"{after or 'first'}/{size}"
