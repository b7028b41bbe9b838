"""Components more than one check needs to know about: breakers, limiters, caches, queues.

Each returns the evidence that the service has the component (empty when it has none), so a
metrics check can ask "is there a breaker whose state should be a metric?" without repeating
the breaker check's rules.
"""

from __future__ import annotations

import ast
import re

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.python import PythonModule, last_name
from goldenpath.audit.facts.symbols import External, Local
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


BREAKER_MODULES = ("purgatory", "pybreaker", "aiobreaker", "circuitbreaker", "aiocircuitbreaker")
LIMITER_MODULES = (
    "limits",
    "slowapi",
    "flask_limiter",
    "fastapi_limiter",
    "django_ratelimit",
    "ratelimit",
    "pyrate_limiter",
)
CACHE_MODULES = (
    "cachetools", "aiocache", "cashews", "flask_caching", "dogpile", "fastapi_cache",
    "async_lru", "diskcache",
)  # fmt: skip
QUEUE_MODULES = (
    "celery", "rq", "dramatiq", "arq", "huey", "procrastinate", "taskiq", "saq", "pgqueuer",
    "django_q", "django_rq", "kombu", "aio_pika", "faststream",
)  # fmt: skip
TOO_MANY_REQUESTS = frozenset(
    {"HTTP_429_TOO_MANY_REQUESTS", "TOO_MANY_REQUESTS", "HTTPTooManyRequests"}
)
TOKENS = re.compile(r"(^|_)(tokens|allowance)$")
MODEL_BASES = frozenset({"Model", "SQLModel", "Base", "DeclarativeBase"})
COUNTING_CALLS = frozenset(
    {"incr", "incrby", "incrbyfloat", "zadd", "zremrangebyscore", "zcard", "evalsha", "eval", "hit"}
)


def _memo(facts: Facts, name: str) -> tuple[Evidence, ...]:
    memo: dict[str, tuple[Evidence, ...]] = facts.__dict__.setdefault("_signals", {})
    if name not in memo:
        memo[name] = tuple(_COMPUTE[name](facts))
    return memo[name]


def library_calls(
    facts: Facts, roots: tuple[str, ...], *, tests: bool = False
) -> list[tuple[PythonModule, ast.Call, External]]:
    """Calls (and decorators) into the libraries `roots`: what the code really does with a
    library, where an import or a declared dependency alone proves nothing."""
    wanted = set(roots)
    found = []
    for module in facts.code.tests if tests else facts.code.modules:
        if not {name.split(".")[0] for name in module.imported_modules} & wanted:
            continue
        for call in module.calls():
            symbol = facts.symbols.resolve(module, call.func)
            if isinstance(symbol, External) and symbol.name.split(".")[0] in wanted:
                found.append((module, call, symbol))
    return found


def reaches(
    facts: Facts,
    module: PythonModule,
    call: ast.Call,
    prefixes: tuple[str, ...],
    depth: int = 0,
) -> bool:
    """Whether `call` is, or leads through the code's own functions to, a call of a library
    function whose qualified name starts with one of `prefixes` (a test's `downgrade(...)`
    helper that runs `alembic.command.downgrade`)."""
    symbol = facts.symbols.resolve(module, call.func)
    if isinstance(symbol, External):
        return symbol.name.startswith(prefixes)
    if depth >= 4 or not isinstance(symbol, Local):
        return False
    node = symbol.node
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    memo: dict[tuple[int, tuple[str, ...]], bool] = facts.__dict__.setdefault("_reaches", {})
    key = (id(node), prefixes)
    if key not in memo:
        memo[key] = False  # a recursive function reaches nothing more through itself
        memo[key] = any(
            reaches(facts, symbol.module, inner, prefixes, depth + 1)
            for inner in ast.walk(node)
            if isinstance(inner, ast.Call) and inner is not call
        )
    return memo[key]


def _used(facts: Facts, roots: tuple[str, ...]) -> list[Evidence]:
    """One piece of evidence per module that calls into the libraries `roots`."""
    seen: dict[str, Evidence] = {}
    for module, call, symbol in library_calls(facts, roots):
        seen.setdefault(module.path, module.evidence(call, f"{symbol.name}(...)"))
    return list(seen.values())


def breakers(facts: Facts) -> list[Evidence]:
    return list(_memo(facts, "breakers"))


def rate_limiter(facts: Facts) -> list[Evidence]:
    return list(_memo(facts, "rate_limiter"))


def cache_layer(facts: Facts) -> list[Evidence]:
    return list(_memo(facts, "cache"))


def task_queue(facts: Facts) -> list[Evidence]:
    return list(_memo(facts, "queue"))


def _breakers(facts: Facts) -> list[Evidence]:
    found = _used(facts, BREAKER_MODULES)
    # A breaker of the project's own: a class that counts failures over time and refuses.
    for module in facts.code.modules:
        for node in module.classes():
            nodes = list(ast.walk(node))
            # What it counts is failures: a bot's `order.cancel_reason += ...` beside an order
            # status "open" is no breaker (freqtrade's main class).
            counts = any(
                isinstance(n, ast.AugAssign)
                and isinstance(n.target, ast.Attribute)
                and re.search(r"fail|error|fault", n.target.attr, re.IGNORECASE)
                for n in nodes
            )
            refuses = any(isinstance(n, ast.Raise) for n in nodes)
            clocks = any(
                isinstance(n, ast.Call)
                and last_name(n.func) in {"monotonic", "time", "perf_counter"}
                for n in nodes
            )
            states = any(
                isinstance(n, ast.Constant)
                and n.value in {"open", "half-open", "half_open", "OPEN"}
                for n in nodes
            )
            if counts and refuses and clocks and states:
                found.append(module.evidence(node, f"{node.name} (counts failures, opens)"))
    return found


def _rate_limiter(facts: Facts) -> list[Evidence]:
    found = _used(facts, LIMITER_MODULES)
    # A limiter of the project's own: code that counts requests and answers 429, or a bucket.
    for module in facts.code.modules:
        answers_429 = any(
            (isinstance(n, ast.Constant) and n.value == 429)
            or (isinstance(n, ast.Attribute | ast.Name) and last_name(n) in TOO_MANY_REQUESTS)
            for n in module.nodes
        )
        counting = [call for call in module.calls() if last_name(call.func) in COUNTING_CALLS]
        if answers_429 and counting:
            found.append(module.evidence(counting[0], "counts requests and answers 429"))
        found += [module.evidence(b, f"{b.name} (a token bucket)") for b in token_buckets(module)]
    drf = facts.django_settings.get("REST_FRAMEWORK")
    if drf is not None and isinstance(drf[2], dict) and drf[2].get("DEFAULT_THROTTLE_CLASSES"):
        found.append(Evidence(drf[0], drf[1], "REST_FRAMEWORK DEFAULT_THROTTLE_CLASSES"))
    return found


def token_buckets(module: PythonModule) -> list[ast.ClassDef]:
    """Token buckets of the project's own, wherever they keep their state (a database row, as
    healthchecks' does, or memory): a class that takes tokens from an attribute and refuses once
    it falls below zero. Such a limiter need not answer 429 (a "try later" page, a form error)."""
    found = []
    for node in module.classes():
        nodes = list(ast.walk(node))
        spent = {
            n.target.attr
            for n in nodes
            if isinstance(n, ast.AugAssign)
            and isinstance(n.op, ast.Sub)
            and isinstance(n.target, ast.Attribute)
            and TOKENS.search(n.target.attr)
        }
        refused = any(
            isinstance(n, ast.Compare)
            and isinstance(n.left, ast.Attribute)
            and n.left.attr in spent
            and isinstance(n.ops[0], ast.Lt | ast.LtE)
            and isinstance(n.comparators[0], ast.Constant)
            and n.comparators[0].value == 0
            for n in nodes
        )
        if refused:
            found.append(node)
    return found


def stored_in_a_database(bucket: ast.ClassDef) -> bool:
    """A Django, SQLAlchemy or SQLModel model: its tokens are rows every replica shares."""
    return any(last_name(base) in MODEL_BASES for base in bucket.bases)


def _cache(facts: Facts) -> list[Evidence]:
    found = _used(facts, CACHE_MODULES)
    caches = facts.django_setting("CACHES")
    if caches is not None:
        found.append(caches)
    # Cache-aside on Redis by hand: entries read back and written with an expiry.
    for module in facts.code.modules:
        if "redis" not in {name.split(".")[0] for name in module.imported_modules}:
            continue
        calls = {last_name(call.func): call for call in module.calls()}
        sessions = {id(node) for store in _session_stores(module) for node in ast.walk(store)}
        expiring = [
            call
            for call in module.calls()
            if id(call) not in sessions
            and (
                last_name(call.func) in {"setex", "psetex", "expire", "pexpire"}
                or (
                    last_name(call.func) == "set"
                    and any(k.arg in {"ex", "px"} for k in call.keywords)
                )
            )
        ]
        if expiring and {"get", "mget"} & set(calls):
            found.append(module.evidence(expiring[0], "entries cached in Redis with an expiry"))
    return found


def _session_stores(module: PythonModule) -> list[ast.ClassDef]:
    """Server-side session stores (a Flask SessionInterface, a Django SessionBase): the
    sessions they keep in Redis with an expiry are the only copy of the data, not a cache."""
    return [
        node
        for node in module.classes()
        if {"save_session", "open_session"}
        <= {f.name for f in node.body if isinstance(f, ast.FunctionDef)}
        or any(last_name(base) in {"SessionInterface", "SessionBase"} for base in node.bases)
    ]


def _queue(facts: Facts) -> list[Evidence]:
    found = _used(facts, QUEUE_MODULES)
    # A jobs table claimed with SKIP LOCKED: the durable queue of a service without a broker.
    for module in facts.code.modules:
        for call in module.calls():
            if any(k.arg == "skip_locked" for k in call.keywords):
                found.append(module.evidence(call, "jobs claimed with SKIP LOCKED"))
                break
        else:
            hits = facts.code.find_tokens(
                r"for update skip locked", kinds=("string",), modules=[module]
            )
            found.extend(hits[:1])
    return found


_COMPUTE = {
    "breakers": _breakers,
    "rate_limiter": _rate_limiter,
    "cache": _cache,
    "queue": _queue,
}
