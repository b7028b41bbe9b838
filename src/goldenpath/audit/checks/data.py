"""DB-1..4: connection pooling, reversible migrations, database constraints, schema design.

All four apply only to a service with a database; DB-1 also not to one whose only database is
embedded SQLite (no server, so no connection pool to size).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from goldenpath.audit.facts import SERVER_DATABASE_DRIVERS, Facts
from goldenpath.audit.facts.python import PythonModule, dotted, keyword, last_name, literal
from goldenpath.audit.model import Evidence, Requirement

from ._base import Assessment, NotApplicable, check, found, listing, skipped, verdict

# Django counts: its DATABASES setting is where a Django service pools, whatever the driver.
SERVER_DATABASES = (*SERVER_DATABASE_DRIVERS, "django")
NO_DATABASE = "no database client among the dependencies or imports"


def _engine_calls(facts: Facts) -> list[tuple[PythonModule, ast.Call]]:
    return facts.code.calls_named(
        "create_engine",
        "create_async_engine",
        "create_pool",
        "ConnectionPool",
        "AsyncConnectionPool",
        "engine_from_config",
    )


def _with(calls: list[tuple[PythonModule, ast.Call]], *names: str) -> list[Evidence]:
    return [
        module.evidence(call, ", ".join(names))
        for module, call in calls
        if all(keyword(call, name) is not None for name in names)
    ]


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
    databases = facts.django_settings.get("DATABASES")
    django = facts.django_text("DATABASES")
    django_evidence = [Evidence(databases[0], databases[1], "DATABASES")] if databases else []

    def django_has(*words: str) -> list[Evidence]:
        return django_evidence if any(word in django for word in words) else []

    requirements = [
        found(
            "pool size and overflow",
            _with(calls, "pool_size", "max_overflow")
            + _with(calls, "max_size")
            + django_has("CONN_MAX_AGE", "'pool'"),
            met="a bounded pool of connections",
            missing="the pool size is the driver's default",
            fix="set pool_size and max_overflow from settings, sized so replicas x pool stays "
            "under the server's max_connections",
            where=[module.evidence(call) for module, call in calls],
        ),
        found(
            "pool timeout",
            _with(calls, "pool_timeout") + _with(calls, "timeout"),
            met="a request waits for a connection for a bounded time",
            missing="a request waits for a free connection without a bound",
            fix="set pool_timeout",
            where=[module.evidence(call) for module, call in calls],
        ),
        found(
            "recycle and pre-ping",
            _with(calls, "pool_recycle", "pool_pre_ping")
            + (_with(calls, "pool_recycle") + checkout_pings if checkout_pings else [])
            + _with(calls, "max_lifetime")
            + django_has("CONN_HEALTH_CHECKS"),
            met="stale connections are recycled and checked before use",
            missing="connections are neither recycled nor checked before use: the first request "
            "after a database failover fails",
            fix="set pool_recycle and pool_pre_ping=True",
            where=[module.evidence(call) for module, call in calls],
        ),
        found(
            "statement timeout",
            facts.code.find_tokens(r"(statement_timeout|command_timeout|max_execution_time)"),
            met="the server cancels runaway statements",
            missing="no statement timeout: one slow query holds a connection for ever",
            fix="set the server's statement_timeout on every connection (from a setting)",
        ),
    ]
    from_settings = [
        module.evidence(call, "sizes from settings")
        for module, call in calls
        if (size := keyword(call, "pool_size") or keyword(call, "max_size")) is not None
        and literal(size) is None
    ]
    if calls:
        requirements.append(
            found(
                "sized from settings",
                from_settings,
                met="pool sizes come from validated settings",
                missing="pool sizes are hard-coded",
                fix="read pool sizes from the settings class",
                where=[module.evidence(call) for module, call in calls],
            )
        )
    return requirements


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
    round_trip = facts.code.find_tokens(r"(downgrade|^zero$)", kinds=("name",), tests=True)
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


def _model_modules(facts: Facts) -> list[PythonModule]:
    return [
        module
        for module in facts.code.modules
        if any(
            t.value in {"__tablename__", "mapped_column", "Column", "Table", "Model"}
            and t.kind == "name"
            for t in module.tokens
        )
        and not re.search(r"/migrations/", module.path)
    ]


def _model_classes(facts: Facts) -> Iterator[tuple[PythonModule, ast.ClassDef]]:
    for module in _model_modules(facts):
        for node in module.classes():
            body = ast.unparse(node)
            if "__tablename__" in body or any(last_name(b) == "Model" for b in node.bases):
                yield module, node


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
    django = any(any(last_name(b) == "Model" for b in node.bases) for _, node in classes)
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
                _calls_in(models, "ForeignKey", "ForeignKeyConstraint", "OneToOneField"),
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
            facts.code.find_tokens(r"^IntegrityError$", kinds=("name",), tests=True),
            met="a test writes around the application and expects the database to refuse",
            missing="no test proves the database refuses a bad row",
            fix="write bad rows with raw SQL in a test and expect IntegrityError",
        )
    )
    return requirements


def _uuid_keys(models: list[PythonModule]) -> list[Evidence]:
    keys = []
    for module in models:
        for node in module.nodes:
            if not isinstance(node, ast.AnnAssign | ast.Assign):
                continue
            if not isinstance(node.value, ast.Call):
                continue
            is_key = literal(keyword(node.value, "primary_key")) is True
            if is_key and re.search(r"uuid", ast.unparse(node), re.IGNORECASE):
                keys.append(module.evidence(node, "UUID primary key"))
    return keys


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
            if last_name(call.func) not in {"mapped_column", "Column"} or not any(
                last_name(argument) == "ForeignKey" for argument in call.args
            ):
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
    uuid_keys = _uuid_keys(models)
    timestamps = facts.code.find_tokens(
        r"^(created_at|updated_at|created|modified|inserted_at|auto_now_add)$",
        kinds=("name",),
        modules=models,
    )
    indexed, unindexed = _foreign_key_indexes(models)
    django = any(any(last_name(b) == "Model" for b in node.bases) for _, node in classes)
    requirements = [
        found(
            "UUID primary keys",
            uuid_keys,
            met="primary keys are UUIDs: unique without coordination, not guessable",
            missing="primary keys are sequential integers",
            fix="use UUID (v7 for index locality) primary keys",
            where=[module.evidence(node) for module, node in classes],
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
