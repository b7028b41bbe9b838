"""Components more than one check needs to know about: breakers, limiters, caches, queues.

Each returns the evidence that the service has the component (empty when it has none), so a
metrics check can ask "is there a breaker whose state should be a metric?" without repeating
the breaker check's rules.
"""

from __future__ import annotations

import re

from goldenpath.audit.facts import Facts
from goldenpath.audit.model import Evidence

BREAKER_LIBRARIES = (
    "purgatory",
    "pybreaker",
    "aiobreaker",
    "circuitbreaker",
    "aiocircuitbreaker",
    "circuitbreaker-py",
)
RETRY_LIBRARIES = (
    "stamina",
    "tenacity",
    "backoff",
    "retrying",
    "aioretry",
    "retry",
    "retry2",
    "opnieuw",
)
CACHE_LIBRARIES = (
    "cachetools",
    "aiocache",
    "cashews",
    "dogpile-cache",
    "flask-caching",
    "django-redis",
    "fastapi-cache2",
    "async-lru",
    "diskcache",
)


def _memo(facts: Facts, name: str) -> tuple[Evidence, ...]:
    memo: dict[str, tuple[Evidence, ...]] = facts.__dict__.setdefault("_signals", {})
    if name not in memo:
        memo[name] = tuple(_COMPUTE[name](facts))
    return memo[name]


def breakers(facts: Facts) -> list[Evidence]:
    return list(_memo(facts, "breakers"))


def rate_limiter(facts: Facts) -> list[Evidence]:
    return list(_memo(facts, "rate_limiter"))


def cache_layer(facts: Facts) -> list[Evidence]:
    return list(_memo(facts, "cache"))


def task_queue(facts: Facts) -> list[Evidence]:
    return list(_memo(facts, "queue"))


def _breakers(facts: Facts) -> list[Evidence]:
    found = facts.uses(
        *BREAKER_LIBRARIES, modules=("purgatory", "pybreaker", "aiobreaker", "circuitbreaker")
    )
    found += [
        module.evidence(node, node.name)
        for module in facts.code.modules
        for node in module.classes()
        if re.search(r"(circuit_?breaker|^breaker)", node.name, re.IGNORECASE)
    ]
    return found


def _rate_limiter(facts: Facts) -> list[Evidence]:
    found = facts.uses(
        "limits",
        "slowapi",
        "fastapi-limiter",
        "flask-limiter",
        "django-ratelimit",
        "pyrate-limiter",
    )
    found += [
        module.evidence(node, node.name)
        for module in facts.code.modules
        for node in module.classes()
        if re.search(r"(rate_?limit|limiter|throttl)", node.name, re.IGNORECASE)
    ]
    drf = facts.django_setting("REST_FRAMEWORK")
    if drf is not None and "THROTTLE" in str(facts.django_settings["REST_FRAMEWORK"][2]).upper():
        found.append(drf)
    return found


def _cache(facts: Facts) -> list[Evidence]:
    found = facts.uses(
        *CACHE_LIBRARIES, modules=("cachetools", "aiocache", "cashews", "flask_caching")
    )
    caches = facts.django_setting("CACHES")
    if caches is not None:
        found.append(caches)
    found += [
        Evidence(module.path, None, "cache module")
        for module in facts.code.modules
        if re.search(r"(^|/)cach(e|ing)[^/]*\.py$", module.path)
    ]
    return found


def _queue(facts: Facts) -> list[Evidence]:
    found = list(facts.has_queue_library)
    found += [
        Evidence(module.path, None, "job queue module")
        for module in facts.code.modules
        if re.search(r"(^|/)(queue|jobs|tasks|outbox|worker)\.py$", module.path)
        and any(
            t.value in {"skip_locked", "SKIP LOCKED", "enqueue", "delay", "apply_async"}
            for t in module.tokens
        )
    ]
    return found


_COMPUTE = {
    "breakers": _breakers,
    "rate_limiter": _rate_limiter,
    "cache": _cache,
    "queue": _queue,
}
