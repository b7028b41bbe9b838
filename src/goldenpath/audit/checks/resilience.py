"""RES-1..2: circuit breakers on every outbound dependency, bounded retries with backoff.

Both apply to a service with outbound dependencies (a database server, Redis, other HTTP
services); a service that calls nothing has nothing to protect.
"""

from __future__ import annotations

import re

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.python import PythonModule
from goldenpath.audit.model import Evidence, Requirement

from ._base import Assessment, NotApplicable, check, found, verdict
from ._signals import RETRY_LIBRARIES, breakers
from .infrastructure import READINESS

DEPENDENCY_MODULES = {
    "database": ("sqlalchemy", "asyncpg", "psycopg", "psycopg2", "pymongo", "motor", "django.db"),
    "Redis": ("redis", "aioredis"),
    "outbound HTTP": ("httpx", "requests", "aiohttp"),
}
BREAKER_TOKEN = re.compile(r"(breaker|circuit)", re.IGNORECASE)


def _dependencies(facts: Facts) -> dict[str, list[PythonModule]]:
    """Each kind of outbound dependency the code uses, with the modules that use it."""
    kinds: dict[str, list[PythonModule]] = {}
    for label, prefixes in DEPENDENCY_MODULES.items():
        users = [m for m in facts.code.modules if m.imported_modules & set(prefixes)]
        if label == "database" and not facts.dependencies.names(runtime_only=True) & {
            "psycopg",
            "psycopg2",
            "psycopg2-binary",
            "asyncpg",
            "pymongo",
            "motor",
            "pymysql",
            "mysqlclient",
            "django",
        }:
            continue  # an embedded SQLite database is not a remote dependency
        if users:
            kinds[label] = users
    return kinds


NO_DEPENDENCIES = "the service calls no database server, Redis or other HTTP service"


@check("RES-1")
def circuit_breakers(facts: Facts) -> Assessment:
    kinds = _dependencies(facts)
    if not kinds:
        return NotApplicable(NO_DEPENDENCIES)
    library = breakers(facts)
    requirements: list[Requirement] = [
        found(
            "circuit breaker",
            library,
            met="failing dependencies are cut off instead of waited on",
            missing="no circuit breaker: every request waits out the timeout of a dependency "
            "that is down",
            fix="put each outbound client behind a circuit breaker (purgatory, pybreaker)",
        )
    ]
    unprotected = []
    protected = []
    for label, users in kinds.items():
        guarded = [
            m
            for m in users
            if any(BREAKER_TOKEN.search(t.value) for t in m.tokens if t.kind == "name")
        ]
        if guarded:
            protected.append(Evidence(guarded[0].path, None, f"{label} behind a breaker"))
        else:
            unprotected.append(Evidence(users[0].path, None, f"{label} without a breaker"))
    requirements.append(
        verdict(
            "every dependency behind a breaker",
            not unprotected,
            f"{', '.join(kinds)}: each goes through a breaker"
            if not unprotected
            else "no breaker on: "
            + ", ".join(e.detail.removesuffix(" without a breaker") for e in unprotected),
            unprotected or protected,
            fix="route every client of that dependency through its breaker",
        )
    )
    if not library:
        return requirements
    metric = [
        e
        for e in facts.code.find_tokens(r"(circuit|breaker)", kinds=("string",), limit=10)
        if re.fullmatch(r"[a-z_:][a-z0-9_:]*", e.detail)
    ]
    requirements.append(
        found(
            "breaker state in metrics",
            metric,
            met="each breaker's state is a metric",
            missing="breaker states are not exported as metrics",
            fix="export circuit_breaker_state per dependency",
        )
    )
    ready_modules = {route.module.path for route in facts.routes.with_path(READINESS)}
    readiness = [
        Evidence(m.path, None, "readiness reports breakers")
        for m in facts.code.modules
        if m.path in ready_modules and any(BREAKER_TOKEN.search(t.value) for t in m.tokens)
    ]
    requirements.append(
        found(
            "breaker state in readiness",
            readiness,
            met="readiness shows each breaker's state",
            missing="readiness does not show the breakers' states",
            fix="include each breaker's state in the readiness report",
            where=[Evidence(path) for path in sorted(ready_modules)],
        )
    )
    return requirements


@check("RES-2")
def retries(facts: Facts) -> Assessment:
    if not _dependencies(facts):
        return NotApplicable(NO_DEPENDENCIES)
    libraries = facts.uses(*RETRY_LIBRARIES, modules=("stamina", "tenacity", "backoff", "retrying"))
    retry_modules = [
        m
        for m in facts.code.modules
        if m.imported_modules & {"stamina", "tenacity", "backoff", "retrying", "urllib3.util.retry"}
    ]
    manual = list(
        facts.code.find_tokens(
            r"^(backoff|retry_policy|RetryPolicy|Retry)$", kinds=("name",), limit=3
        )
    )
    requirements: list[Requirement] = [
        found(
            "retries with exponential backoff",
            libraries + manual,
            met="transient failures are retried with exponential backoff",
            missing="no retries: one dropped connection fails the request",
            fix="retry transient failures with stamina (exponential backoff with jitter)",
        )
    ]
    if not (libraries or manual):
        return requirements
    names = {t.value.lower() for m in retry_modules for t in m.tokens}
    default_jitter = facts.uses("stamina", "backoff")
    jitter = default_jitter or [
        Evidence(m.path, None, "jitter")
        for m in retry_modules
        if any(re.search(r"(jitter|wait_random)", t.value, re.IGNORECASE) for t in m.tokens)
    ]
    requirements.append(
        found(
            "jitter",
            jitter,
            met="retries are spread by jitter",
            missing="retries without jitter: clients retry in lockstep",
            fix="add jitter (tenacity.wait_random_exponential, or stamina)",
            where=[Evidence(m.path) for m in retry_modules],
        )
    )
    bounded = bool(names & {"attempts", "stop_after_attempt", "max_tries", "total", "max_attempts"})
    deadline = bool(
        names & {"timeout", "deadline", "stop_after_delay", "max_time", "deadline_seconds"}
    )
    requirements.append(
        verdict(
            "bounded, with an overall deadline",
            bounded and deadline,
            "a bounded number of attempts under an overall deadline"
            if bounded and deadline
            else "retries lack "
            + " and ".join(
                part
                for part, ok in (("an attempt bound", bounded), ("an overall deadline", deadline))
                if not ok
            ),
            [Evidence(m.path) for m in retry_modules] or libraries,
            fix="bound attempts and the total time (stamina.retry(attempts=..., timeout=...))",
        )
    )
    idempotent = [
        Evidence(m.path, None, "idempotent requests only")
        for m in retry_modules
        if any(re.search(r"idempot", t.value, re.IGNORECASE) for t in m.tokens)
    ]
    requirements.append(
        found(
            "idempotent operations only",
            idempotent,
            met="only idempotent requests are retried",
            missing="retries do not distinguish idempotent operations: a retried POST can "
            "apply twice",
            fix="retry only idempotent methods (or requests with an Idempotency-Key)",
            where=[Evidence(m.path) for m in retry_modules],
        )
    )
    return requirements
