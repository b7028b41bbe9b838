"""DB-1..4: connection pooling, reversible migrations, database constraints, schema design.

All four apply only to a service with a database; DB-1 also not to one whose only database is
embedded SQLite (no server, so no connection pool to size).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from goldenpath.audit.facts import SERVER_DATABASE_DRIVERS, Facts
from goldenpath.audit.facts.python import PythonModule, dotted, keyword, last_name, literal
from goldenpath.audit.facts.symbols import UNKNOWN, External, Local
from goldenpath.audit.model import Evidence, Requirement

from ._base import (
    Assessment,
    NotApplicable,
    check,
    found,
    listing,
    skipped,
    undetermined,
    verdict,
)
from ._signals import reaches

# Django counts: its DATABASES setting is where a Django service pools, whatever the driver.
SERVER_DATABASES = (*SERVER_DATABASE_DRIVERS, "django")
NO_DATABASE = "no database client among the dependencies or imports"


ENGINE_FACTORIES = frozenset(
    {"create_engine", "create_async_engine", "create_pool", "ConnectionPool", "AsyncConnectionPool",
     "engine_from_config", "async_engine_from_config", "SimpleConnectionPool",
     "ThreadedConnectionPool"}
)  # fmt: skip
ENGINE_LIBRARIES = (
    "sqlalchemy", "sqlmodel", "psycopg_pool", "psycopg2", "asyncpg", "databases", "aiomysql",
    "aiopg",
)  # fmt: skip
Located = tuple[PythonModule, ast.expr | None]


@dataclass
class EngineCall:
    """A call that makes a connection pool, with the keywords it really receives: its own, those
    of a dict passed as `**options`, and, when it sits in a wrapper that passes its `**kwargs`
    on, those of the wrapper's callers."""

    module: PythonModule
    call: ast.Call
    keywords: dict[str, Located] = field(default_factory=dict)
    unfollowed: list[str] = field(default_factory=list)  # `**x` the audit could not follow

    def evidence(self, detail: str = "") -> Evidence:
        return self.module.evidence(self.call, detail)

    def has(self, *names: str) -> bool:
        return all(name in self.keywords for name in names)


def _enclosing(
    module: PythonModule, call: ast.Call
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The innermost function whose body holds `call`."""
    found_ = None
    for function in module.functions():
        if any(node is call for node in ast.walk(function)) and (
            found_ is None or function.lineno >= found_.lineno
        ):
            found_ = function
    return found_


def _mapping(facts: Facts, module: PythonModule, node: ast.expr) -> dict[str, Located] | None:
    """The keys and value expressions of a dict literal, `dict(...)`, or a name bound to one."""
    if isinstance(node, ast.Name | ast.Attribute):
        symbol = facts.symbols.resolve(module, node)
        if isinstance(symbol, Local) and isinstance(symbol.node, ast.expr):
            return _mapping(facts, symbol.module, symbol.node)
        return None
    if isinstance(node, ast.Dict):
        return {
            key.value: (module, value)
            for key, value in zip(node.keys, node.values, strict=True)
            if isinstance(key, ast.Constant) and isinstance(key.value, str)
        }
    if isinstance(node, ast.Call) and last_name(node.func) == "dict":
        return {k.arg: (module, k.value) for k in node.keywords if k.arg}
    return None


def _callers(
    facts: Facts, function: ast.FunctionDef | ast.AsyncFunctionDef
) -> list[tuple[PythonModule, ast.Call]]:
    found_ = []
    for module, call in facts.code.calls_named(function.name):
        symbol = facts.symbols.resolve(module, call.func)
        if isinstance(symbol, Local) and symbol.node is function:
            found_.append((module, call))
    return found_


def _engine_calls(facts: Facts) -> list[EngineCall]:
    memo: dict[str, list[EngineCall]] = facts.__dict__.setdefault("_engines", {})
    if "all" not in memo:
        memo["all"] = [
            engine
            for module, call in _pool_factory_calls(facts)
            if not ONE_OFF_ENGINES.search(module.path)
            and (engine := _engine(facts, module, call)) is not None
        ]
    return memo["all"]


# Engines of migrations and scripts run once and exit: the service's pool is elsewhere.
ONE_OFF_ENGINES = re.compile(r"(^|/)(scripts/|(migrations|alembic)/env\.py$)")


def _pool_factory_calls(facts: Facts) -> list[tuple[PythonModule, ast.Call]]:
    """Calls of a pool factory, under whatever name it was imported (`create_async_engine as
    _create_async_engine`)."""
    found_ = []
    for module in facts.code.modules:
        imported = {name.split(".")[0] for name in module.imported_modules}
        if not imported & set(ENGINE_LIBRARIES):
            continue
        for call in module.calls():
            name = last_name(call.func)
            if name in ENGINE_FACTORIES:
                found_.append((module, call))
                continue
            symbol = facts.symbols.resolve(module, call.func)
            if isinstance(symbol, External) and symbol.last in ENGINE_FACTORIES:
                found_.append((module, call))
    return found_


def _engine(facts: Facts, module: PythonModule, call: ast.Call) -> EngineCall | None:
    symbol = facts.symbols.resolve(module, call.func)
    if isinstance(symbol, External) and not symbol.name.startswith(ENGINE_LIBRARIES):
        return None
    if isinstance(symbol, Local):
        return None  # the project's own wrapper: the library call inside it is the one
    function = _enclosing(module, call)
    engine = EngineCall(module, call)
    for item in call.keywords:
        if item.arg is not None:
            engine.keywords[item.arg] = (module, item.value)
            continue
        spread = item.value
        if (
            function is not None
            and function.args.kwarg is not None
            and isinstance(spread, ast.Name)
            and spread.id == function.args.kwarg.arg
        ):
            callers = _callers(facts, function)
            for caller_module, caller in callers:
                for given in caller.keywords:
                    if given.arg is not None:
                        engine.keywords.setdefault(given.arg, (caller_module, given.value))
            if not callers:
                engine.unfollowed.append(f"**{spread.id}")
            continue
        local = _local_value(function, spread) if function is not None else None
        mapping = _mapping(facts, module, local if local is not None else spread)
        if mapping is None:
            engine.unfollowed.append(f"**{ast.unparse(spread)[:30]}")
        else:
            for key, value in mapping.items():
                engine.keywords.setdefault(key, value)
    return engine


def _local_value(
    function: ast.FunctionDef | ast.AsyncFunctionDef, node: ast.expr
) -> ast.expr | None:
    """The value a function assigns to a local name (`options = {...}` before the call)."""
    if not isinstance(node, ast.Name):
        return None
    values = [
        statement.value
        for statement in ast.walk(function)
        if isinstance(statement, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == node.id for t in statement.targets)
    ]
    return values[-1] if values else None


def _switched_on(facts: Facts, engine: EngineCall, name: str) -> bool:
    """The keyword is given and not False: followed through the parameters of wrappers to what
    their callers pass, or the parameter's default (a setting whose default is False is off
    unless a deployment says otherwise, which the audit cannot see)."""
    if name not in engine.keywords:
        return False
    module, value = engine.keywords[name]
    return any(v not in (False, None) for v in _values(facts, module, value, engine.call))


def _values(
    facts: Facts, module: PythonModule, node: ast.expr | None, at: ast.AST, depth: int = 0
) -> list[object]:
    """The values an expression can have where it is used: a parameter of the enclosing
    function takes what its callers pass, or its default."""
    function = _enclosing(module, at) if isinstance(at, ast.Call) else None
    if isinstance(node, ast.Name) and function is not None and depth < 3:
        arguments = function.args
        names = [a.arg for a in (*arguments.args, *arguments.kwonlyargs)]
        if node.id in names:
            defaults = dict(
                zip(
                    [a.arg for a in arguments.args][-len(arguments.defaults) :]
                    if arguments.defaults
                    else [],
                    arguments.defaults,
                    strict=True,
                )
            )
            defaults |= {
                a.arg: d
                for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
                if d is not None
            }
            found_: list[object] = []
            for caller_module, caller in _callers(facts, function):
                given = keyword(caller, node.id)
                if given is not None:
                    found_ += _values(facts, caller_module, given, caller, depth + 1)
                elif node.id in defaults:
                    found_.append(facts.symbols.value(module, defaults[node.id]))
                else:
                    found_.append(UNKNOWN)
            if not found_ and node.id in defaults:
                found_.append(facts.symbols.value(module, defaults[node.id]))
            return found_ or [UNKNOWN]
    return [facts.symbols.value(module, node)]


def _with(calls: list[EngineCall], *names: str) -> list[Evidence]:
    return [engine.evidence(", ".join(names)) for engine in calls if engine.has(*names)]


def _pool_requirement(
    name: str,
    evidence: list[Evidence],
    calls: list[EngineCall],
    *,
    met: str,
    missing: str,
    fix: str,
) -> Requirement:
    """Met with evidence; else undetermined when some keywords could not be followed."""
    unfollowed = [engine for engine in calls if engine.unfollowed]
    if not evidence and unfollowed:
        return undetermined(
            name,
            "the pool's settings are passed as "
            + ", ".join(sorted({u for engine in unfollowed for u in engine.unfollowed}))
            + ", which the audit cannot follow",
            [engine.evidence() for engine in unfollowed],
        )
    return found(
        name, evidence, met=met, missing=missing, fix=fix, where=[e.evidence() for e in calls]
    )


def _checkout_pings(facts: Facts) -> list[Evidence]:
    """Pre-ping by hand: a pool "checkout" listener that pings the connection (for example one
    that skips connections returned a moment ago, as the generated service's does)."""
    found: list[Evidence] = []
    for module in facts.code.modules:
        listens = facts.code.find_tokens(r"^checkout$", kinds=("string",), modules=[module])
        pings = facts.code.find_tokens(r"^do_ping$", kinds=("name",), modules=[module])
        if listens and pings:
            found.append(Evidence(pings[0].path, pings[0].line, "pings on pool checkout"))
    return found


@check("DB-1")
def pooling(facts: Facts) -> Assessment:
    if not facts.has_database:
        return NotApplicable(NO_DATABASE)
    declared = facts.dependencies.names(runtime_only=True)
    if not declared & set(SERVER_DATABASES) and not facts.code.imports_any(
        "psycopg", "psycopg2", "asyncpg"
    ):
        return NotApplicable(
            "the only database is embedded (SQLite): there is no server to pool connections to"
        )
    calls = _engine_calls(facts)
    checkout_pings = _checkout_pings(facts)
    django = _django_pooling(facts)
    requirements = [
        _pool_requirement(
            "pool size and overflow",
            _with(calls, "pool_size", "max_overflow") + _with(calls, "max_size") + django["size"],
            calls,
            met="a bounded pool of connections",
            missing="the pool's size and overflow are not both configured: the driver's defaults "
            "apply",
            fix="set pool_size and max_overflow from settings, sized so replicas x pool stays "
            "under the server's max_connections (Django: CONN_MAX_AGE, or psycopg's pool)",
        ),
        _pool_requirement(
            "pool timeout",
            _with(calls, "pool_timeout") + _with(calls, "timeout") + django["timeout"],
            calls,
            met="a request waits for a connection for a bounded time",
            missing="the time a request waits for a free connection is left to the driver's "
            "default, not configured",
            fix="set pool_timeout",
        ),
        _pool_requirement(
            "recycle and pre-ping",
            [
                engine.evidence("pool_recycle, pool_pre_ping")
                for engine in calls
                if engine.has("pool_recycle") and _switched_on(facts, engine, "pool_pre_ping")
            ]
            + (_with(calls, "pool_recycle") + checkout_pings if checkout_pings else [])
            + _with(calls, "max_lifetime")
            + django["health"],
            calls,
            met="stale connections are recycled and checked before use",
            missing="connections are neither recycled nor checked before use: the first request "
            "after a database failover fails",
            fix="set pool_recycle and pool_pre_ping=True",
        ),
        found(
            "statement timeout",
            _statement_timeouts(facts, calls),
            met="the server cancels runaway statements",
            missing="no statement timeout: one slow query holds a connection for ever",
            fix="set the server's statement_timeout on every connection (from a setting)",
        ),
    ]
    sized = [engine for engine in calls if engine.has("pool_size") or engine.has("max_size")]
    from_settings = [
        engine.evidence("sizes from settings")
        for engine in sized
        if literal((engine.keywords.get("pool_size") or engine.keywords["max_size"])[1]) is None
    ]
    if sized:
        requirements.append(
            found(
                "sized from settings",
                from_settings,
                met="pool sizes come from validated settings",
                missing="pool sizes are hard-coded",
                fix="read pool sizes from the settings class",
                where=[engine.evidence() for engine in sized],
            )
        )
    return requirements


def _statement_timeouts(facts: Facts, calls: list[EngineCall]) -> list[Evidence]:
    """A statement timeout the server is told: in `connect_args` server settings or an
    `options` string, asyncpg's `command_timeout`, or a SET statement_timeout the code runs."""
    found_: list[Evidence] = []
    for engine in calls:
        for name, (_, value) in engine.keywords.items():
            text = ast.unparse(value) if value is not None else ""
            if name in {"command_timeout", "statement_timeout"} or (
                name in {"connect_args", "options", "server_settings"}
                and re.search(r"statement_timeout|command_timeout", text)
            ):
                found_.append(engine.evidence(f"{name}: statement timeout"))
    found_ += facts.code.find_tokens(
        r"(set\s+(local\s+)?statement_timeout|statement_timeout\s*=|-c\s*statement_timeout)",
        kinds=("string",),
    )
    if "statement_timeout" in facts.django_text("DATABASES"):
        setting = facts.django_setting("DATABASES")
        if setting is not None:
            found_.append(setting)
    return found_


def _django_pooling(facts: Facts) -> dict[str, list[Evidence]]:
    """Django's DATABASES: persistent connections (CONN_MAX_AGE above 0, or None for ever),
    psycopg's pool in OPTIONS, and CONN_HEALTH_CHECKS."""
    found_: dict[str, list[Evidence]] = {"size": [], "timeout": [], "health": []}
    setting = facts.django_settings.get("DATABASES")
    module = next((m for m in facts.code.modules if setting and m.path == setting[0]), None)
    if setting is None or module is None:
        return found_
    raw = setting[2]
    value = facts.symbols.value(module, raw) if isinstance(raw, ast.AST) else raw
    databases = value if isinstance(value, dict) else {}
    for database in databases.values():
        if not isinstance(database, dict):
            continue
        options = database.get("OPTIONS")
        pool = options.get("pool") if isinstance(options, dict) else None
        age = database.get("CONN_MAX_AGE", 0)
        if pool:
            found_["size"].append(Evidence(setting[0], setting[1], "OPTIONS pool (psycopg)"))
            found_["timeout"].append(Evidence(setting[0], setting[1], "OPTIONS pool (psycopg)"))
        elif age is None or (isinstance(age, int) and not isinstance(age, bool) and age > 0):
            found_["size"].append(Evidence(setting[0], setting[1], f"CONN_MAX_AGE = {age}"))
        if database.get("CONN_HEALTH_CHECKS") is True:
            found_["health"].append(Evidence(setting[0], setting[1], "CONN_HEALTH_CHECKS = True"))
    return found_


def _alembic_revisions(facts: Facts) -> list[PythonModule]:
    revisions = []
    for module in facts.code.modules:
        top = {n.name for n in module.tree.body if isinstance(n, ast.FunctionDef)}
        assigned = {
            t.id
            for n in module.tree.body
            if isinstance(n, ast.Assign | ast.AnnAssign)
            for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
            if isinstance(t, ast.Name)
        }
        if "upgrade" in top and "revision" in assigned:
            revisions.append(module)
    return revisions


def _trivial(function: ast.FunctionDef) -> bool:
    body = [
        node
        for node in function.body
        if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))
        and not isinstance(node, ast.Pass)
    ]
    return not body or all(
        isinstance(node, ast.Raise) and "NotImplementedError" in ast.unparse(node) for node in body
    )


def _django_migrations(facts: Facts) -> list[PythonModule]:
    return [
        module
        for module in facts.code.modules
        if re.search(r"/migrations/\d{4}_\w+\.py$", module.path)
    ]


@check("DB-2")
def migrations(facts: Facts) -> Assessment:
    if not facts.has_database:
        return NotApplicable(NO_DATABASE)
    alembic = _alembic_revisions(facts)
    django = _django_migrations(facts)
    tool = [Evidence(m.path, None, "alembic revision") for m in alembic[:2]]
    tool += [Evidence(m.path, None, "Django migration") for m in django[:2]]
    tool += [Evidence(path) for path in ("alembic.ini",) if facts.repository.exists(path)]
    tool += facts.uses("yoyo-migrations", "aerich", "flask-migrate")
    requirements = [
        found(
            "versioned migrations",
            tool,
            met="the schema changes through versioned migrations",
            missing="no migrations: the schema is created by the application or by hand",
            fix="manage the schema with Alembic migrations (alembic init, then revisions)",
        )
    ]
    irreversible: list[Evidence] = []
    for module in alembic:
        downgrade = next(
            (
                n
                for n in module.tree.body
                if isinstance(n, ast.FunctionDef) and n.name == "downgrade"
            ),
            None,
        )
        if downgrade is None:
            irreversible.append(Evidence(module.path, None, "no downgrade()"))
        elif _trivial(downgrade):
            irreversible.append(module.evidence(downgrade, "downgrade() does nothing"))
    for module in django:
        for call in module.calls():
            name = last_name(call.func)
            if name == "RunPython" and len(call.args) < 2 and keyword(call, "reverse_code") is None:
                irreversible.append(module.evidence(call, "RunPython without reverse_code"))
            if name == "RunSQL" and len(call.args) < 2 and keyword(call, "reverse_sql") is None:
                irreversible.append(module.evidence(call, "RunSQL without reverse_sql"))
    if alembic or django:
        total = len(alembic) + len(django)
        requirements.append(
            verdict(
                "every migration reversible",
                not irreversible,
                f"all {total} migrations can be rolled back"
                if not irreversible
                else f"{len(irreversible)} of {total} migrations cannot be rolled back: "
                + listing(irreversible),
                irreversible or tool,
                fix="write a downgrade() that undoes each upgrade()",
            )
        )
    round_trip = _downgrades_in_tests(facts)
    round_trip += facts.ci.search(r"alembic downgrade|migrate \S+ zero")
    requirements.append(
        found(
            "round trip tested",
            round_trip,
            met="a test or CI step migrates down and up again",
            missing="no test ever runs a downgrade: the rollback path is untested",
            fix="test upgrade head, downgrade base, upgrade head, and compare models to the schema",
        )
    )
    return requirements


def _downgrades_in_tests(facts: Facts) -> list[Evidence]:
    """Tests that run a downgrade: alembic's `command.downgrade` (directly or through the
    project's helpers), pytest-alembic's round-trip tests, or Django's `migrate <app> zero`."""
    found_: list[Evidence] = []
    for module in facts.code.tests:
        if "pytest_alembic" in module.imported_modules:
            found_.append(Evidence(module.path, None, "pytest-alembic round-trip tests"))
            continue
        for call in module.calls():
            if reaches(facts, module, call, ("alembic.command.downgrade",)):
                found_.append(module.evidence(call, "runs an alembic downgrade"))
                break
            if last_name(call.func) == "call_command" and any(
                literal(a) == "zero" for a in call.args
            ):
                found_.append(module.evidence(call, "migrates to zero"))
                break
    return found_


def _is_table(facts: Facts, module: PythonModule, node: ast.ClassDef) -> bool:
    """An ORM model with a table: SQLAlchemy declarative (`__tablename__`, or a Flask-SQLAlchemy
    `db.Model`), a Django model, or a SQLModel class declared `table=True`."""
    if any(k.arg == "table" and literal(k.value) is True for k in node.keywords):
        return True
    if any(
        isinstance(item, ast.Assign | ast.AnnAssign)
        and "__tablename__"
        in {dotted(t) for t in (item.targets if isinstance(item, ast.Assign) else [item.target])}
        for item in node.body
    ):
        return True
    if any(last_name(base) == "Model" for base in node.bases):
        return True
    # A mapped class of a declarative base (whose `__tablename__` may come from the base).
    declares = any(
        isinstance(item, ast.Assign | ast.AnnAssign)
        and isinstance(item.value, ast.Call)
        and last_name(item.value.func) in {"Column", "mapped_column"}
        for item in node.body
    )
    return declares and _declarative(facts, module, node)


def _declarative(facts: Facts, module: PythonModule, node: ast.ClassDef, depth: int = 0) -> bool:
    """Whether a class descends from SQLAlchemy's declarative base (a `DeclarativeBase`
    subclass or a `declarative_base()` value)."""
    for base in node.bases:
        symbol = facts.symbols.resolve(module, base)
        if isinstance(symbol, External) and symbol.last in {
            "DeclarativeBase",
            "DeclarativeBaseNoMeta",
        }:
            return True
        if not isinstance(symbol, Local):
            continue
        if isinstance(symbol.node, ast.Call) and last_name(symbol.node.func) == "declarative_base":
            return True
        if (
            isinstance(symbol.node, ast.ClassDef)
            and depth < 6
            and _declarative(facts, symbol.module, symbol.node, depth + 1)
        ):
            return True
    return False


def _model_classes(facts: Facts) -> list[tuple[PythonModule, ast.ClassDef]]:
    memo: dict[str, list[tuple[PythonModule, ast.ClassDef]]] = facts.__dict__.setdefault(
        "_models", {}
    )
    if "all" not in memo:
        revisions = {module.path for module in _alembic_revisions(facts)}
        memo["all"] = [
            (module, node)
            for module in facts.code.modules
            if not re.search(r"(^|/)migrations/", module.path) and module.path not in revisions
            for node in module.classes()
            if _is_table(facts, module, node)
        ]
    return memo["all"]


def _model_modules(facts: Facts) -> list[PythonModule]:
    """Modules of the tables and of the mixins they inherit columns from (a shared
    `UUIDPrimaryKey`, `Timestamps`)."""
    found_: dict[str, PythonModule] = {}
    pending = list(_model_classes(facts))
    seen: set[int] = set()
    while pending:
        module, node = pending.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        found_.setdefault(module.path, module)
        for base in node.bases:
            parent = facts.symbols.resolve(module, base)
            if isinstance(parent, Local) and isinstance(parent.node, ast.ClassDef):
                pending.append((parent.module, parent.node))
    return list(found_.values())


def _is_django(facts: Facts, classes: list[tuple[PythonModule, ast.ClassDef]]) -> bool:
    return any(
        base.startswith("django.")
        for module, node in classes
        for base in facts.symbols.bases(module, node)
    )


def _sqlmodel_fields(facts: Facts) -> list[tuple[PythonModule, ast.AnnAssign]]:
    """Columns of SQLModel tables: their own annotated fields and those of their base models."""
    found_: list[tuple[PythonModule, ast.AnnAssign]] = []
    for module, node in _model_classes(facts):
        if not any(k.arg == "table" for k in node.keywords):
            continue
        chain = [(module, node)]
        for base in node.bases:
            parent = facts.symbols.resolve(module, base)
            if isinstance(parent, Local) and isinstance(parent.node, ast.ClassDef):
                chain.append((parent.module, parent.node))
        for owner, cls in chain:
            found_ += [
                (owner, item)
                for item in cls.body
                if isinstance(item, ast.AnnAssign)
                and isinstance(item.target, ast.Name)
                and "Relationship" not in ast.unparse(item.value or item.annotation)
                and not ast.unparse(item.annotation).startswith(("list[", "List["))
            ]
    return found_


def _calls_in(modules: list[PythonModule], *names: str) -> list[Evidence]:
    return [
        module.evidence(call, last_name(call.func))
        for module in modules
        for call in module.calls()
        if last_name(call.func) in names
    ]


def _keywords_in(modules: list[PythonModule], name: str, value: object) -> list[Evidence]:
    return [
        module.evidence(call, f"{name}={value}")
        for module in modules
        for call in module.calls()
        if literal(keyword(call, name)) == value
    ]


@check("DB-3")
def constraints(facts: Facts) -> Assessment:
    models = _model_modules(facts)
    classes = list(_model_classes(facts))
    if not facts.has_database or not classes:
        return NotApplicable("no ORM models (SQLAlchemy or Django) describe the schema")
    django = _is_django(facts, classes)
    not_null = (
        _keywords_in(models, "nullable", False)
        + [
            module.evidence(node, "Mapped[...] is NOT NULL")
            for module in models
            for node in module.nodes
            if isinstance(node, ast.AnnAssign)
            and "Mapped[" in ast.unparse(node.annotation)
            and "None" not in ast.unparse(node.annotation)
            and "Optional" not in ast.unparse(node.annotation)
        ][:2]
    )
    not_null += [
        module.evidence(item, f"{dotted(item.target)} is NOT NULL (SQLModel)")
        for module, item in _sqlmodel_fields(facts)
        if not re.search(r"(None|Optional)", ast.unparse(item.annotation))
    ][:2]
    if django:
        not_null.append(Evidence(classes[0][0].path, None, "Django fields are NOT NULL by default"))
    requirements: list[Requirement] = [
        found(
            "NOT NULL",
            not_null,
            met="required columns are NOT NULL",
            missing="columns accept NULL everywhere",
            fix="declare required columns NOT NULL",
        ),
        found(
            "CHECK constraints",
            _calls_in(models, "CheckConstraint"),
            met="CHECK constraints repeat the application's rules",
            missing="no CHECK constraint: a row written around the application can break the "
            "rules the API enforces",
            fix="add CheckConstraint(...) for ranges, lengths and allowed values",
        ),
        found(
            "UNIQUE constraints",
            _calls_in(models, "UniqueConstraint") + _keywords_in(models, "unique", True),
            met="uniqueness is enforced by the database",
            missing="no UNIQUE constraint",
            fix="declare unique columns unique=True (or UniqueConstraint)",
        ),
    ]
    if len(classes) > 1:
        requirements.append(
            found(
                "foreign keys",
                _calls_in(models, "ForeignKey", "ForeignKeyConstraint", "OneToOneField")
                + [
                    module.evidence(call, "Field(foreign_key=...)")
                    for module in models
                    for call in module.calls()
                    if keyword(call, "foreign_key") is not None
                ],
                met="relations are foreign keys",
                missing="tables refer to each other without foreign keys",
                fix="declare relations with ForeignKey(...)",
            )
        )
    else:
        requirements.append(skipped("foreign keys", "one table only"))
    requirements.append(
        found(
            "database refusal tested",
            _expects_integrity_error(facts),
            met="a test writes around the application and expects the database to refuse",
            missing="no test proves the database refuses a bad row",
            fix="write bad rows with raw SQL in a test and expect IntegrityError",
        )
    )
    return requirements


def _expects_integrity_error(facts: Facts) -> list[Evidence]:
    """Tests that expect the database to refuse: `pytest.raises(IntegrityError)`,
    `assertRaises(IntegrityError)`, or an `except IntegrityError` in a test."""
    found_ = []
    for module in facts.code.tests:
        for node in module.nodes:
            if (
                isinstance(node, ast.Call)
                and last_name(node.func) in {"raises", "assertRaises", "assertRaisesRegex"}
                and any(last_name(a) == "IntegrityError" for a in node.args)
            ) or (
                isinstance(node, ast.ExceptHandler)
                and node.type is not None
                and "IntegrityError" in ast.unparse(node.type)
            ):
                found_.append(module.evidence(node, "expects IntegrityError"))
                break
    return found_


def _primary_keys(models: list[PythonModule]) -> tuple[list[Evidence], list[Evidence]]:
    """Primary-key columns declared in the models: (UUID ones, others)."""
    uuid_keys: list[Evidence] = []
    others: list[Evidence] = []
    for module in models:
        for node in module.nodes:
            if not isinstance(node, ast.AnnAssign | ast.Assign):
                continue
            if not isinstance(node.value, ast.Call):
                continue
            if literal(keyword(node.value, "primary_key")) is not True:
                continue
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
            if re.search(r"uuid", ast.unparse(node), re.IGNORECASE):
                uuid_keys.append(module.evidence(node, f"{dotted(target)}: UUID primary key"))
            else:
                others.append(module.evidence(node, f"{dotted(target)}: not a UUID"))
    return uuid_keys, others


def _foreign_key_indexes(models: list[PythonModule]) -> tuple[list[Evidence], list[Evidence]]:
    """Foreign-key columns with an index (index=True or named in an Index()), and without."""
    indexed: list[Evidence] = []
    unindexed: list[Evidence] = []
    for module in models:
        in_indexes = {
            value
            for call in module.calls()
            if last_name(call.func) == "Index"
            for argument in call.args
            if isinstance(value := literal(argument), str)
        }
        for node in module.nodes:
            if not isinstance(node, ast.AnnAssign | ast.Assign) or not isinstance(
                node.value, ast.Call
            ):
                continue
            call = node.value
            column = last_name(call.func) in {"mapped_column", "Column"} and any(
                last_name(argument) == "ForeignKey" for argument in call.args
            )
            sqlmodel = last_name(call.func) == "Field" and keyword(call, "foreign_key") is not None
            if not (column or sqlmodel):
                continue
            target = node.target if isinstance(node, ast.AnnAssign) else node.targets[0]
            name = dotted(target)
            has_index = (
                literal(keyword(call, "index")) is True
                or literal(keyword(call, "primary_key")) is True
                or name in in_indexes
            )
            (indexed if has_index else unindexed).append(module.evidence(node, f"{name} (FK)"))
    return indexed, unindexed


@check("DB-4")
def schema_design(facts: Facts) -> Assessment:
    models = _model_modules(facts)
    classes = list(_model_classes(facts))
    if not facts.has_database or not classes:
        return NotApplicable("no ORM models (SQLAlchemy or Django) describe the schema")
    uuid_keys, other_keys = _primary_keys(models)
    timestamps = facts.code.find_tokens(
        r"^(created_at|updated_at|created|modified|inserted_at|auto_now_add)$",
        kinds=("name",),
        modules=models,
    )
    indexed, unindexed = _foreign_key_indexes(models)
    django = _is_django(facts, classes)
    requirements = [
        verdict(
            "UUID primary keys",
            bool(uuid_keys) and not other_keys,
            "primary keys are UUIDs: unique without coordination, not guessable"
            if uuid_keys and not other_keys
            else "primary keys are sequential integers"
            if not uuid_keys
            else f"{len(other_keys)} of {len(uuid_keys) + len(other_keys)} primary keys are not "
            f"UUIDs: {listing(other_keys)}",
            other_keys or uuid_keys or [module.evidence(node) for module, node in classes],
            fix="use UUID (v7 for index locality) primary keys",
        ),
        found(
            "timestamps",
            timestamps,
            met="rows record when they were created and changed",
            missing="no created_at/updated_at columns",
            fix="add created_at and updated_at, set by the database",
        ),
    ]
    if django:
        requirements.append(skipped("indexes on foreign keys", "Django indexes every ForeignKey"))
    elif indexed or unindexed:
        requirements.append(
            verdict(
                "indexes on foreign keys",
                not unindexed,
                "every foreign key is indexed"
                if not unindexed
                else f"foreign keys without an index: {listing(unindexed)}",
                unindexed or indexed,
                fix="index every foreign key column (index=True): joins and cascades scan "
                "otherwise",
            )
        )
    else:
        requirements.append(skipped("indexes on foreign keys", "no foreign keys"))
    return requirements
