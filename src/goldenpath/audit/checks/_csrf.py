"""What SEC-2 reads in code: where the Origin / Sec-Fetch-Site headers are read, and the REST
framework authentication classes that switch the CSRF check off for cookie sessions."""

from __future__ import annotations

import ast
import re

from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.python import PythonModule, dotted, string_value
from goldenpath.audit.facts.symbols import External
from goldenpath.audit.model import Evidence

ORIGIN_HEADERS = re.compile(r"^(sec-fetch-site|origin|HTTP_ORIGIN|HTTP_SEC_FETCH_SITE)$", re.I)
HEADER_MAPS = {"headers", "META", "environ", "scope"}


def _header_name(node: ast.AST) -> str | None:
    """The header a read names: `request.headers.get("origin")`, `request.META["HTTP_ORIGIN"]`."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.args:
        mapping, key = node.func.value, node.args[0]
        if node.func.attr not in {"get", "getlist", "get_all"}:
            return None
    elif isinstance(node, ast.Subscript):
        mapping, key = node.value, node.slice
    else:
        return None
    if dotted(mapping).rsplit(".", 1)[-1] not in HEADER_MAPS:
        return None
    return string_value(key)


CORS_HEADER = re.compile(r"^access-control-allow-", re.I)


def _refuses(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Raises, aborts or answers 403 somewhere: it can turn a request away."""
    for node in ast.walk(function):
        if isinstance(node, ast.Raise):
            return True
        if isinstance(node, ast.Call) and dotted(node.func).rsplit(".", 1)[-1] == "abort":
            return True
        if isinstance(node, ast.Constant) and node.value == 403:
            return True
    return False


def _cors_only(module: PythonModule) -> set[int]:
    """The nodes of functions that read Origin to answer with Access-Control-Allow-* headers and
    never refuse: redash's add_cors_headers echoes an allowed Origin back, which lets a
    cross-site page read the answer but stops no request."""
    skipped: set[int] = set()
    for function in module.functions():
        writes_cors = any(
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and CORS_HEADER.match(node.value)
            for node in ast.walk(function)
        )
        if writes_cors and not _refuses(function):
            skipped.update(id(node) for node in ast.walk(function))
    return skipped


def origin_header_reads(facts: Facts) -> list[Evidence]:
    """Code that reads the Origin or Sec-Fetch-Site header of a request to check it. A string
    "origin" elsewhere (a column, a dict key, a log field) checks nothing, nor does a read that
    only builds CORS response headers."""
    found: list[Evidence] = []
    for module in facts.code.request_time:
        cors = _cors_only(module)
        for node in module.nodes:
            if id(node) in cors:
                continue
            name = _header_name(node)
            if name is not None and ORIGIN_HEADERS.match(name):
                found.append(module.evidence(node, f"reads the {name} header"))
                break
    return found


def _skips_the_check(method: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """An `enforce_csrf` that calls nothing (`return`, `pass`): it never checks the token."""
    return not any(isinstance(node, ast.Call) for node in ast.walk(method))


def _referenced(facts: Facts, node: ast.ClassDef) -> bool:
    """Used somewhere: a view's `authentication_classes` or a dotted path in the settings."""
    for module in facts.code.modules:
        for item in module.nodes:
            if isinstance(item, ast.Name) and item.id == node.name:
                return True
            value = string_value(item) if isinstance(item, ast.Constant) else None
            if value is not None and value.endswith(f".{node.name}"):
                return True
    return False


def csrf_exempt_session_authentication(facts: Facts) -> list[Evidence]:
    """REST framework's SessionAuthentication subclassed with `enforce_csrf` emptied and used:
    REST framework views are exempt from Django's CSRF middleware and rely on that method, so
    every state change authenticated by the session cookie goes through unchecked."""
    found: list[Evidence] = []
    for module, node in facts.code.subclasses("SessionAuthentication"):
        drf = any(
            isinstance(symbol := facts.symbols.resolve(module, base), External)
            and symbol.name.startswith("rest_framework.")
            for base in node.bases
        )
        skipping = [
            item
            for item in node.body
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            and item.name == "enforce_csrf"
            and _skips_the_check(item)
        ]
        if drf and skipping and _referenced(facts, node):
            found.append(
                module.evidence(
                    skipping[0], f"{node.name}.enforce_csrf skips the CSRF check for sessions"
                )
            )
    return found
