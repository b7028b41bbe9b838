"""What a FastAPI or Starlette lifespan does once the app stops.

A lifespan passed to the app is no proof that anything is closed: mealie's only logs after its
`yield`. Credit goes to a close of a resource after the `yield` (`await engine.dispose()`), in a
`finally` around it, or to an `async with` spanning it (its exit closes what it opened).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.python import PythonModule, dotted, last_name
from goldenpath.audit.facts.symbols import Local, returned
from goldenpath.audit.model import Evidence

CLOSERS = frozenset({"close", "aclose", "dispose", "shutdown", "disconnect", "wait_closed"})
MAX_DEPTH = 4

Function = ast.FunctionDef | ast.AsyncFunctionDef
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def lifespan_closes(facts: Facts, module: PythonModule, lifespan: ast.expr) -> list[Evidence]:
    """Evidence that the lifespan given as `lifespan=` closes something on the way out."""
    found = _function(facts, module, lifespan, 0)
    if found is None:
        return []
    owner, function = found
    return list(_after_yield(facts, owner, function.body, 0))


def _function(
    facts: Facts, module: PythonModule, node: ast.expr, depth: int
) -> tuple[PythonModule, Function] | None:
    """The function a `lifespan=` expression stands for: a def, or what a factory returns."""
    if depth > MAX_DEPTH:
        return None
    if isinstance(node, ast.Call):
        return _made_by(facts, module, node, depth)
    symbol = facts.symbols.resolve(module, node)
    if isinstance(symbol, Local) and isinstance(symbol.node, Function):
        return symbol.module, symbol.node
    if isinstance(symbol, Local) and isinstance(symbol.node, ast.expr):
        return _function(facts, symbol.module, symbol.node, depth + 1)
    if isinstance(node, ast.Name):  # defined in the function that builds the app
        for function in module.functions():
            if function.name == node.id and _yields(function.body):
                return module, function
    return None


def _made_by(
    facts: Facts, module: PythonModule, call: ast.Call, depth: int
) -> tuple[PythonModule, Function] | None:
    """The lifespan a factory (or `functools.partial`) call gives."""
    if last_name(call.func) == "partial" and call.args:
        return _function(facts, module, call.args[0], depth + 1)
    factory = facts.symbols.resolve(module, call.func)
    if not (isinstance(factory, Local) and isinstance(factory.node, Function)):
        return None
    value = returned(factory.node)
    nested = _nested(factory.node, value)
    if nested is not None:
        return factory.module, nested
    return _function(facts, factory.module, value, depth + 1) if value is not None else None


def _nested(factory: Function, value: ast.expr | None) -> Function | None:
    if not isinstance(value, ast.Name):
        return None
    for statement in factory.body:
        if isinstance(statement, Function) and statement.name == value.id:
            return statement
    return None


def _walk(node: ast.AST) -> Iterator[ast.AST]:
    """`ast.walk` that stays out of nested functions and classes."""
    yield node
    for child in ast.iter_child_nodes(node):
        if not isinstance(child, SCOPES):
            yield from _walk(child)


def _yields(statements: list[ast.stmt]) -> bool:
    return any(
        isinstance(node, ast.Yield | ast.YieldFrom)
        for statement in statements
        for node in _walk(statement)
    )


def _after_yield(
    facts: Facts, module: PythonModule, body: list[ast.stmt], depth: int
) -> Iterator[Evidence]:
    """Closes that run once the `yield` in `body` returns."""
    for index, statement in enumerate(body):
        if not _yields([statement]):
            continue
        if isinstance(statement, ast.With | ast.AsyncWith):
            opened = ", ".join(dotted(item.context_expr) for item in statement.items)
            yield module.evidence(statement, f"lifespan: `with {opened}` spans the yield")
        elif isinstance(statement, ast.Try | ast.TryStar):
            yield from _closes(facts, module, statement.finalbody, depth)
        for block in _blocks(statement):
            if _yields(block):
                yield from _after_yield(facts, module, block, depth)
        yield from _closes(facts, module, body[index + 1 :], depth)
        return


def _blocks(statement: ast.stmt) -> list[list[ast.stmt]]:
    if isinstance(statement, ast.Try | ast.TryStar):
        return [statement.body, *(h.body for h in statement.handlers), statement.orelse]
    if isinstance(statement, ast.With | ast.AsyncWith):
        return [statement.body]
    if isinstance(statement, ast.If | ast.For | ast.AsyncFor | ast.While):
        return [statement.body, statement.orelse]
    return []


def _closes(
    facts: Facts, module: PythonModule, statements: list[ast.stmt], depth: int
) -> Iterator[Evidence]:
    """Calls in `statements` that close a resource, followed into the project's own helpers
    (a helper named `shutdown` that only logs closes nothing)."""
    for statement in statements:
        for node in _walk(statement):
            if not isinstance(node, ast.Call):
                continue
            helper = facts.symbols.resolve(module, node.func)
            if isinstance(helper, Local) and isinstance(helper.node, Function):
                if depth < MAX_DEPTH and any(
                    True for _ in _closes(facts, helper.module, helper.node.body, depth + 1)
                ):
                    yield module.evidence(node, f"lifespan: {dotted(node.func)}() closes")
            elif last_name(node.func) in CLOSERS:
                yield module.evidence(node, f"lifespan: {dotted(node.func)}() after the yield")
