"""SEC-6: object-level authorization (OWASP API1): queries filtered by the object's owner.

Scopes say what a caller may do; this says to which objects. The check reads the service's own
data-access code (never the chassis's: the chassis's helper counts where a repository uses it):

- an owner filter is real code in a query: a `where(...)`/`filter(...)` comparing an owner or
  tenant column (`Item.owner == ...`, `.filter(owner=request.user)`), or the chassis's helper
  (`access.criterion(Item.owner)`);
- every function of a repository that queries a table with an owner column filters it so; a
  lookup by primary key alone (`session.get(Item, item_id)`) reaches every owner's rows.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.chassis import OVERLAY
from goldenpath.audit.facts.python import PythonModule, last_name
from goldenpath.audit.model import Evidence, Requirement

from ._base import Assessment, NotApplicable, check, found, listing, skipped, verdict

# Columns that say whose a row is.
OWNER_COLUMN = re.compile(r"^(owner|tenant|organization|org|account|user|created_by)(_id|_key)?$")
QUERY_FILTERS = frozenset({"where", "filter", "filter_by", "exclude", "having", "get"})
REPOSITORY_MODULE = re.compile(r"(repositor(y|ies)|repo|dao|crud|queries|selectors?)\.py$")
REPOSITORY_CLASS = re.compile(r"(Repository|Repo|Dao|DAO)$")
MODEL_BASES = frozenset({"Model", "SQLModel", "Document"})
# Core statements and ORM lookups that name the table they read or change.
STATEMENTS = frozenset({"select", "update", "delete"})


def _own_code(facts: Facts) -> list[PythonModule]:
    """The service's application modules: not its tests, migrations or the chassis."""
    return [
        module for module in facts.code.request_time if not module.path.startswith(f"{OVERLAY}/")
    ]


def _owner_attribute(node: ast.AST) -> bool:
    """`Item.owner` or `items.c.tenant_id`: a model's (or table's) owner column."""
    if not isinstance(node, ast.Attribute) or not OWNER_COLUMN.match(node.attr):
        return False
    value = node.value
    return (isinstance(value, ast.Name) and value.id[:1].isupper()) or (
        isinstance(value, ast.Attribute) and value.attr == "c"
    )


def _owner_criteria(function: ast.AST) -> Iterator[ast.AST]:
    """Owner filters in `function`: a comparison on an owner column inside a query filter, an
    owner keyword of a filter (`filter(owner=...)`, `owner__in=`), or the chassis's helper."""
    for node in ast.walk(function):
        if isinstance(node, ast.Call) and _filters_by_owner(node):
            yield node


def _filters_by_owner(call: ast.Call) -> bool:
    name = last_name(call.func)
    if name == "criterion":
        return any(_owner_attribute(arg) for arg in call.args)
    if name not in QUERY_FILTERS:
        return False
    keywords = (keyword.arg or "" for keyword in call.keywords)
    return any(OWNER_COLUMN.match(arg.split("__", 1)[0]) for arg in keywords) or any(
        isinstance(inner, ast.Compare)
        and any(_owner_attribute(side) for side in (inner.left, *inner.comparators))
        for arg in call.args
        for inner in ast.walk(arg)
    )


def _owned_models(modules: list[PythonModule]) -> set[str]:
    """Names of model classes with an owner column."""
    owned: set[str] = set()
    for module in modules:
        for node in module.classes():
            body = ast.unparse(node)
            is_model = "__tablename__" in body or any(
                last_name(base) in MODEL_BASES for base in node.bases
            )
            if is_model and any(_owner_column(statement) for statement in node.body):
                owned.add(node.name)
    return owned


def _owner_column(statement: ast.stmt) -> bool:
    if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name):
        return bool(OWNER_COLUMN.match(statement.target.id)) and (
            "Mapped" in ast.unparse(statement.annotation) or isinstance(statement.value, ast.Call)
        )
    if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Call):
        return any(
            isinstance(target, ast.Name) and OWNER_COLUMN.match(target.id)
            for target in statement.targets
        )
    return False


def _repositories(modules: list[PythonModule]) -> list[PythonModule]:
    return [
        module
        for module in modules
        if REPOSITORY_MODULE.search(module.path)
        or any(REPOSITORY_CLASS.search(node.name) for node in module.classes())
    ]


@dataclass(frozen=True)
class Query:
    node: ast.Call
    model: str
    by_key_alone: bool  # `session.get(Model, id)`: no filter can apply


def _queries(function: ast.AST, owned: set[str]) -> Iterator[Query]:
    """Queries of owned tables in `function`: `select(Item)`, `update(Item)`, `Item.objects...`,
    and `session.get(Item, ...)`."""
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        name = last_name(node.func)
        first = node.args[0] if node.args else None
        if name in STATEMENTS and first is not None:
            model = _model_named(first, owned)
            if model:
                yield Query(node, model, by_key_alone=False)
        elif name == "get" and isinstance(first, ast.Name) and first.id in owned:
            yield Query(node, first.id, by_key_alone=True)
        elif (
            isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Attribute)
            and node.func.value.attr == "objects"
        ):
            model = _model_named(node.func.value.value, owned)
            if model:
                yield Query(node, model, by_key_alone=False)


def _model_named(node: ast.AST, owned: set[str]) -> str | None:
    """The owned model `node` names: `Item`, or a column of it (`Item.id`)."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) and node.id in owned else None


def _functions(module: PythonModule) -> Iterator[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Functions that do not contain another function (each query judged in the innermost)."""
    for function in module.functions():
        nested = any(
            isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef) and inner is not function
            for inner in ast.walk(function)
        )
        if not nested:
            yield function


def _unfiltered(modules: list[PythonModule], owned: set[str]) -> list[Evidence]:
    found: list[Evidence] = []
    for module in modules:
        for function in _functions(module):
            queries = list(_queries(function, owned))
            filtered = any(True for _ in _owner_criteria(function))
            for query in queries:
                if query.by_key_alone:
                    found.append(
                        module.evidence(
                            query.node, f"{function.name}: {query.model} by primary key alone"
                        )
                    )
                elif not filtered:
                    found.append(
                        module.evidence(
                            query.node, f"{function.name}: {query.model} without an owner filter"
                        )
                    )
    return found


@check("SEC-6")
def object_authorization(facts: Facts) -> Assessment:
    if not facts.has_database:
        return NotApplicable("no database client among the dependencies or imports")
    code = _own_code(facts)
    if not code:
        return NotApplicable("no application code to read")
    criteria = [
        module.evidence(node, "owner filter")
        for module in code
        for node in _owner_criteria(module.tree)
    ]
    owned = _owned_models(code)
    requirements: list[Requirement] = [
        found(
            "queries filtered by owner",
            criteria,
            met="queries are filtered by the object's owner or tenant",
            missing="no query is filtered by an owner or tenant: any caller holding a scope "
            "reaches every object of its kind (OWASP API1)",
            fix="give each object an owner (or tenant) column and filter every read, list, "
            "update and delete by it in the repository's query, e.g. with "
            "goldenpath_chassis.security.Ownership",
        )
    ]
    repositories = _repositories(code) or code
    queried = [
        module.evidence(query.node, query.model)
        for module in repositories
        for function in _functions(module)
        for query in _queries(function, owned)
    ]
    if not owned or not queried:
        requirements.append(
            skipped(
                "every query of an owned table filtered",
                "no model has an owner column" if not owned else "no query of an owned table",
            )
        )
        return requirements
    unfiltered = _unfiltered(repositories, owned)
    requirements.append(
        verdict(
            "every query of an owned table filtered",
            not unfiltered,
            f"all {len(queried)} queries of {', '.join(sorted(owned))} are filtered by owner"
            if not unfiltered
            else f"queries that reach every owner's rows: {listing(unfiltered)}",
            unfiltered or queried,
            fix="add the owner criterion to the WHERE clause of each of these queries (a lookup "
            "by id too: select(...).where(Model.id == id, Model.owner == owner)); another "
            "owner's object must be as absent as a missing one",
        )
    )
    return requirements
