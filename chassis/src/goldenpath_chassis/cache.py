"""Cache-aside for a domain's reads (PERF-1): a named resource with its codec."""

from ._core.cache import (
    Cache,
    CachedResource,
    Codec,
    JsonCodec,
    invalidate_after_commit,
    invalidate_group_after_commit,
)

__all__ = [
    "Cache",
    "CachedResource",
    "Codec",
    "JsonCodec",
    "invalidate_after_commit",
    "invalidate_group_after_commit",
]
