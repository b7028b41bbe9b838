"""Where SEC-1 finds a request body size limit in code: the limit given a value."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.python import dotted, string_value
from goldenpath.audit.model import Evidence

BODY_LIMIT = re.compile(
    r"(max_?body|body_?(size|limit)|request_?max_?body|max_?request_?size|"
    r"max_?content_?length|data_upload_max)",
    re.IGNORECASE,
)

# A metric of body sizes (`REQUEST_BODY_SIZE_HISTOGRAM`, `METRIC_REQUEST_BODY_SIZE`) limits none.
MEASURES = re.compile(r"(metric|histogram|bucket)", re.IGNORECASE)


def _outside_functions(tree: ast.AST) -> set[int]:
    """The nodes of module and class bodies: where a configuration is written. A function's
    local variable holds what it read (`limit = get_app_config("MAX_CONTENT_LENGTH")`)."""
    kept: set[int] = set()
    pending = [tree]
    while pending:
        node = pending.pop()
        kept.add(id(node))
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            pending.extend(ast.iter_child_nodes(node))
    return kept


def _set_names(node: ast.AST, configuration: set[int]) -> Iterator[str]:
    """The names `node` gives a value to: a module's or class's variable (a class field), a
    key or attribute stored anywhere (`app.config["MAX_CONTENT_LENGTH"] = ...`), a keyword
    argument, a dict literal's key, a parameter with a default."""
    if isinstance(node, ast.Assign | ast.AnnAssign | ast.AugAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if isinstance(node, ast.AnnAssign) and node.value is None:
            return
        # A list of sizes is a histogram's buckets (`BODY_SIZE_BUCKETS = [0, 100, ...]`), no limit.
        if isinstance(node.value, ast.List | ast.Tuple | ast.Set):
            return
        for target in targets:
            if isinstance(target, ast.Subscript):
                yield string_value(target.slice) or ""
            elif isinstance(target, ast.Attribute) or id(node) in configuration:
                yield dotted(target).rsplit(".", 1)[-1]
    elif isinstance(node, ast.keyword) and node.arg:
        yield node.arg
    elif isinstance(node, ast.Dict):
        yield from (string_value(key) or "" for key in node.keys)
    elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        arguments = node.args
        positional = [*arguments.posonlyargs, *arguments.args]
        yield from (a.arg for a in positional[len(positional) - len(arguments.defaults) :])
        yield from (
            a.arg
            for a, default in zip(arguments.kwonlyargs, arguments.kw_defaults, strict=True)
            if default is not None
        )


def body_limits_set(facts: Facts) -> list[Evidence]:
    """Code that sets a body size limit. A limit only read (`get_app_config("MAX_CONTENT_LENGTH")`
    to check a zip's members) or named in a message (an upstream's "Request too large") sets
    none: the framework's default, no limit, applies."""
    found: list[Evidence] = []
    for module in facts.code.modules:
        configuration = _outside_functions(module.tree)
        for node in module.nodes:
            names = _set_names(node, configuration)
            name = next((n for n in names if BODY_LIMIT.search(n) and not MEASURES.search(n)), None)
            if name is not None:
                found.append(module.evidence(node, name))
                break
    return found
