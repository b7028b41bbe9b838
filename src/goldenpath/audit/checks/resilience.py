"""RES-1..2: circuit breakers on every outbound dependency, bounded retries with backoff.

Both apply to a service with outbound dependencies (a database server, Redis, other HTTP
services); a service that calls nothing has nothing to protect.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.python import PythonModule, keyword, last_name, literal
from goldenpath.audit.model import Evidence, Requirement

from ._base import Assessment, NotApplicable, check, found, verdict
from ._signals import breakers, library_calls
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


@dataclass(frozen=True)
class RetrySite:
    """A place that retries, and what its configuration says."""

    module: PythonModule
    node: ast.AST
    how: str  # "tenacity", "stamina", "backoff", "urllib3", "by hand"
    exponential: bool
    jitter: bool
    attempts: bool
    deadline: bool
    idempotent: bool
    wait: str  # what the wait is, for the report

    def evidence(self, detail: str = "") -> Evidence:
        return self.module.evidence(self.node, f"{self.how}: {detail or self.wait}")


def _names(node: ast.AST | None) -> set[str]:
    return (
        {last_name(n) for n in ast.walk(node) if isinstance(n, ast.Name | ast.Attribute)}
        if node
        else set()
    )


def _idempotent_guard(facts: Facts, module: PythonModule, call: ast.Call) -> bool:
    """Retries limited to idempotent requests: the attempts depend on a condition, or the
    function checks the method against a set of idempotent methods (or an Idempotency-Key)."""
    for item in call.keywords:
        if item.arg in {"attempts", "stop", "max_tries", "total"} and isinstance(
            item.value, ast.IfExp
        ):
            return True
    for node in module.nodes:
        if isinstance(node, ast.Compare) and any(
            isinstance(op, ast.In | ast.NotIn) for op in node.ops
        ):
            for comparator in node.comparators:
                value = facts.symbols.value(module, comparator)
                if (
                    isinstance(value, list | set | frozenset)
                    and "GET" in value
                    and "POST" not in value
                ):
                    return True
        if isinstance(node, ast.Constant) and str(node.value).lower() == "idempotency-key":
            return True
    return False


def retry_sites(facts: Facts) -> list[RetrySite]:
    sites: list[RetrySite] = []
    for module, call, symbol in library_calls(facts, ("tenacity", "stamina", "backoff", "urllib3")):
        name, last = symbol.name, symbol.last
        guard = _idempotent_guard(facts, module, call)
        if name.startswith("tenacity") and last in {"retry", "Retrying", "AsyncRetrying"}:
            wait, stop = keyword(call, "wait"), keyword(call, "stop")
            waits = _names(wait)
            stops = _names(stop)
            sites.append(
                RetrySite(
                    module,
                    call,
                    "tenacity",
                    bool(
                        waits
                        & {"wait_exponential", "wait_random_exponential", "wait_exponential_jitter"}
                    ),
                    bool(
                        waits
                        & {"wait_random_exponential", "wait_exponential_jitter", "wait_random"}
                    ),
                    "stop_after_attempt" in stops,
                    "stop_after_delay" in stops,
                    guard,
                    f"wait={ast.unparse(wait)[:40]}"
                    if wait is not None
                    else "no wait between attempts",
                )
            )
        elif name.startswith("stamina") and last in {
            "retry",
            "retry_context",
            "RetryingCaller",
            "AsyncRetryingCaller",
        }:
            # stamina waits exponentially with jitter, 10 attempts within 45 s unless told.
            timeout, attempts = keyword(call, "timeout"), keyword(call, "attempts")
            sites.append(
                RetrySite(
                    module,
                    call,
                    "stamina",
                    True,
                    literal(keyword(call, "wait_jitter")) != 0,
                    not (isinstance(attempts, ast.Constant) and attempts.value is None),
                    not (isinstance(timeout, ast.Constant) and timeout.value is None),
                    guard,
                    "exponential backoff with jitter",
                )
            )
        elif name.startswith("backoff") and last in {"on_exception", "on_predicate"}:
            generator = call.args[0] if call.args else keyword(call, "wait_gen")
            kind = last_name(generator) if generator is not None else ""
            jitter = keyword(call, "jitter")
            sites.append(
                RetrySite(
                    module,
                    call,
                    "backoff",
                    kind in {"expo", "fibo"},
                    not (isinstance(jitter, ast.Constant) and jitter.value is None),
                    keyword(call, "max_tries") is not None,
                    keyword(call, "max_time") is not None,
                    guard,
                    f"backoff.{kind}" if kind else "a custom wait",
                )
            )
        elif name.startswith("urllib3") and last == "Retry":
            factor = literal(keyword(call, "backoff_factor"))
            methods = keyword(call, "allowed_methods")
            sites.append(
                RetrySite(
                    module,
                    call,
                    "urllib3",
                    isinstance(factor, int | float) and factor > 0,
                    isinstance(literal(keyword(call, "backoff_jitter")), int | float),
                    True,
                    False,
                    methods is None or guard,
                    f"backoff_factor={factor}",
                )
            )
    return sites


@check("RES-2")
def retries(facts: Facts) -> Assessment:
    if not _dependencies(facts):
        return NotApplicable(NO_DEPENDENCIES)
    sites = retry_sites(facts)
    exponential = [site for site in sites if site.exponential]
    requirements: list[Requirement] = [
        verdict(
            "retries with exponential backoff",
            bool(exponential),
            "transient failures are retried with exponential backoff"
            if exponential
            else "retries wait a fixed time: " + ", ".join(sorted({site.wait for site in sites}))
            if sites
            else "no retries: one dropped connection fails the request",
            [site.evidence() for site in exponential or sites],
            fix="retry transient failures with stamina (exponential backoff with jitter)",
        )
    ]
    if not sites:
        return requirements
    shown = exponential or sites
    jitter = [site for site in shown if site.jitter]
    requirements.append(
        found(
            "jitter",
            [site.evidence("jitter") for site in jitter],
            met="retries are spread by jitter",
            missing="retries without jitter: clients retry in lockstep",
            fix="add jitter (tenacity.wait_random_exponential, or stamina)",
            where=[site.evidence() for site in shown],
        )
    )
    bounded = all(site.attempts for site in shown)
    deadline = all(site.deadline for site in shown)
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
            [site.evidence() for site in shown],
            fix="bound attempts and the total time (stamina.retry(attempts=..., timeout=...), "
            "backoff's max_time, tenacity's stop_after_delay)",
        )
    )
    idempotent = [site for site in shown if site.idempotent]
    requirements.append(
        found(
            "idempotent operations only",
            [site.evidence("retries only idempotent requests") for site in idempotent],
            met="only idempotent requests are retried",
            missing="retries do not distinguish idempotent operations: a retried POST can "
            "apply twice",
            fix="retry only idempotent methods (or requests with an Idempotency-Key)",
            where=[site.evidence() for site in shown],
        )
    )
    return requirements
