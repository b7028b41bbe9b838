"""The chassis uses httpx and httpcore through their public names only: a private one (a
`_module`, a `_name`, an attribute such as a transport's `_pool`) can change in any release,
and the SSRF guard of the user-URL client would break with nothing saying so."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

import goldenpath_chassis

LIBRARIES = frozenset({"httpx", "httpcore"})
CHASSIS = Path(goldenpath_chassis.__file__).parent
TESTS = Path(__file__).parents[1]


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def dotted(node: ast.expr) -> str | None:
    """`httpcore._backends.auto` for that expression; None for anything but names and dots."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr}"
    return None


def library_aliases(tree: ast.Module) -> set[str]:
    """The names httpx and httpcore go by in the file (`import httpcore as core`: core)."""
    aliases = set(LIBRARIES)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in LIBRARIES:
                    aliases.add(alias.asname or alias.name.split(".")[0])
    return aliases


def private_imports(tree: ast.Module) -> Iterator[str]:
    """`from httpcore._backends.auto import ...`, `from httpx import _config`,
    `import httpx._transports`."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] in LIBRARIES and any(map(is_private, parts)):
                    yield f"line {node.lineno}: import {alias.name}"
        elif isinstance(node, ast.ImportFrom) and node.module:
            parts = node.module.split(".")
            names = [alias.name for alias in node.names]
            if parts[0] in LIBRARIES and any(map(is_private, parts + names)):
                yield f"line {node.lineno}: from {node.module} import {', '.join(names)}"


def private_attributes(tree: ast.Module, aliases: set[str]) -> Iterator[str]:
    """A private attribute of the modules (`httpcore._models`), or of `self`/`cls` in a class
    deriving from one of their classes: there it is theirs, or could become theirs in a
    release (`self._pool = ...`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            name = dotted(node)
            if name is not None and name.split(".")[0] in aliases:
                yield f"line {node.lineno}: {name}"
        elif isinstance(node, ast.ClassDef) and any(
            (base := dotted(expr)) is not None and base.split(".")[0] in aliases
            for expr in node.bases
        ):
            for inner in ast.walk(node):
                if (
                    isinstance(inner, ast.Attribute)
                    and isinstance(inner.value, ast.Name)
                    and inner.value.id in {"self", "cls"}
                    and is_private(inner.attr)
                ):
                    yield f"line {inner.lineno}: {node.name}: {inner.value.id}.{inner.attr}"


def private_uses(source: str) -> list[str]:
    """Where `source` touches a private name of httpx or httpcore."""
    tree = ast.parse(source)
    return [*private_imports(tree), *private_attributes(tree, library_aliases(tree))]


def test_only_public_names_of_httpx_and_httpcore() -> None:
    """The chassis and its tests (a test on a private name breaks with the release too)."""
    found = {
        str(path.relative_to(CHASSIS.parents[1])): uses
        for path in sorted([*CHASSIS.rglob("*.py"), *TESTS.rglob("*.py")])
        if (uses := private_uses(path.read_text()))
    }
    assert found == {}


def test_the_scan_sees_what_the_user_url_client_once_did() -> None:
    """The user-URL client's first version: httpx's transport with its pool replaced, on
    httpcore's private backend."""
    before = """
import httpcore
import httpx
from httpcore._backends.auto import AutoBackend

class UserUrlTransport(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self._pool = httpcore.AsyncConnectionPool(network_backend=AutoBackend())
"""
    assert private_uses(before) == [
        "line 4: from httpcore._backends.auto import AutoBackend",
        "line 9: UserUrlTransport: self._pool",
    ]


@pytest.mark.parametrize(
    "source",
    [
        "import httpx._transports.default",
        "from httpx import _config",
        "import httpcore as core\ncore._backends.auto.AutoBackend()",
        "import httpx\nclass T(httpx.AsyncBaseTransport):\n    def f(self): return self._x",
    ],
)
def test_the_scan_sees_other_private_uses(source: str) -> None:
    assert private_uses(source) != []


def test_the_scan_lets_public_names_and_own_privates_be() -> None:
    source = """
import httpx
class Mine:
    def __init__(self) -> None:
        self._client = httpx.AsyncClient()
class Transport(httpx.AsyncBaseTransport):
    def __init__(self, pool) -> None:
        self.pool = pool
"""
    assert private_uses(source) == []
