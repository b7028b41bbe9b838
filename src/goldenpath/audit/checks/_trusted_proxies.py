"""Where SEC-4 finds which proxies may set the client address, and a list that trusts all."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.python import dotted, elements, keyword, last_name, string_value
from goldenpath.audit.model import Evidence

TRUSTED = re.compile(r"(forwarded_?allow_?ips|trusted_?prox|trusted_?hosts)", re.IGNORECASE)


def _every_address(value: ast.AST | None) -> bool:
    """`"*"`, `["*"]`, or a settings field whose default is one of them (`Field(default="*")`)."""
    if value is None:
        return False
    if string_value(value) == "*":
        return True
    if isinstance(value, ast.List | ast.Tuple | ast.Set):
        return any(string_value(item) == "*" for item in elements(value))
    if isinstance(value, ast.Call) and last_name(value.func) == "Field":
        given = keyword(value, "default") or (value.args[0] if value.args else None)
        return _every_address(given)
    return False


def _settings(node: ast.AST) -> Iterator[tuple[str, ast.AST | None]]:
    """The names `node` gives a value to, with the value."""
    if isinstance(node, ast.Assign):
        for target in node.targets:
            yield dotted(target).rsplit(".", 1)[-1], node.value
    elif isinstance(node, ast.AnnAssign):
        yield dotted(node.target).rsplit(".", 1)[-1], node.value
    elif isinstance(node, ast.keyword) and node.arg:
        yield node.arg, node.value


def proxies_trusting_everyone(facts: Facts) -> list[Evidence]:
    """Trusted-proxy settings given `*`: any client may then forge X-Forwarded-For."""
    return [
        module.evidence(node, f"{name} = '*'")
        for module in facts.code.modules
        for node in module.nodes
        for name, value in _settings(node)
        if TRUSTED.search(name) and _every_address(value)
    ]
