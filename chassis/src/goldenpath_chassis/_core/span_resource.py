"""The tracer provider's `Resource`, hashed once (OBS-2's export cost).

The OTLP encoder groups a batch's spans by their resource, so it hashes the resource once per
span, and the SDK's `Resource.__hash__` serialises every attribute to JSON each time: about a
fifth of the exporter thread's work per span, and that thread holds the GIL the requests need.
A resource is immutable once made (its attributes refuse writes), so its hash can be kept.
Equality and everything else stay the SDK's; a resource the SDK makes from this one (a merge
after a fork) is a plain one again, only slower to hash.

Imported only when tracing is on, like the rest of the SDK (see tracing.py).
"""

from __future__ import annotations

from functools import cached_property

from opentelemetry.sdk.resources import Resource


class HashedOnceResource(Resource):
    @cached_property
    def _hash(self) -> int:
        return super().__hash__()

    def __hash__(self) -> int:
        return self._hash


def hashed_once(resource: Resource) -> HashedOnceResource:
    """The same resource (equal, same hash), hashed at most once."""
    return HashedOnceResource(resource.attributes, resource.schema_url)
