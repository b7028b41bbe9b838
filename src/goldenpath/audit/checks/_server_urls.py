"""What TEST-1 reads in test code: database and Redis URLs that tests connect with.

A URL string in a test is often data for the code under test, not a server: the input and the
expected value of a URL parser (`pytest.param("redis://host:6379", ...)`, `assert url ==
"redis://..."`), an environment patched to see a setting parsed. Only a URL a test hands to
something (`create_engine(url)`, `DataLayer(database_url=...)`), or one set up outside the test
functions (a fixture, a conftest, a test settings module), is taken as a server the tests reach.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from goldenpath.audit.facts.python import PythonModule, last_name
from goldenpath.audit.model import Evidence

SERVER_URL = re.compile(r"(postgres(ql)?(\+\w+)?://|redis://)", re.I)
# Calls whose arguments are a test's data: its cases and its expectations.
DATA_CALLS = re.compile(r"^(parametrize|param|assert\w*)$")


def server_urls(modules: list[PythonModule], limit: int = 3) -> list[Evidence]:
    """Database and Redis URL strings the tests connect with, one per line."""
    found: list[Evidence] = []
    for module in modules:
        lines: set[int] = set()
        for line, url in sorted(_connected_strings(module.tree)):
            if line not in lines:
                lines.add(line)
                found.append(module.evidence(line, url if len(url) <= 80 else url[:77] + "..."))
                if len(found) >= limit:
                    return found
    return found


def _connected_strings(tree: ast.AST) -> Iterator[tuple[int, str]]:
    # (node, inside a test function, passed straight to a call); a stack, as code can nest deep.
    stack: list[tuple[ast.AST, bool, bool]] = [(tree, False, False)]
    while stack:
        node, in_test, argument = stack.pop()
        if isinstance(node, ast.Constant):
            # Inside a test function only a URL passed straight to a call is a connection.
            url = node.value if isinstance(node.value, str) else ""
            if SERVER_URL.search(url) and (argument or not in_test):
                yield node.lineno, url
            continue
        if isinstance(node, ast.Assert | ast.Compare):
            continue
        if isinstance(node, ast.Call):
            if not DATA_CALLS.match(last_name(node.func)):
                stack.append((node.func, in_test, False))
                stack += [(value, in_test, True) for value in node.args]
                stack += [(k.value, in_test, True) for k in node.keywords]
            continue
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            in_test = in_test or node.name.startswith("test")
        stack += [(child, in_test, False) for child in ast.iter_child_nodes(node)]
