"""Credentials in a request's path kept out of spans and logs: path parameters whose name says
they hold one.

Some links carry their credential in the path (`/v1/invitations/{invitation_token}`, a password
reset's or an unsubscribe link's token). The path reaches the request's span (`url.path`), its
access-log line and the line of an unhandled error. The value of each parameter whose name is
sensitive by the query-string rule (`url_redaction.sensitive`: `token`, `secret`, `key`, `code`,
...) becomes `REDACTED` there; every other byte of the path is kept, so an item's ID still reads
as sent. The parameters are those of the matched route; for a request no route answered (one
refused before routing, a 429 or a 431, or not found), of the first of the app's routes with a
sensitive parameter that matches the path as sent or with its trailing slash added or removed.
A path that matches none (`/v1/invitations/{token}/extra`) is kept as it came: nothing names
its parts.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator

from starlette.types import Scope

from .url_redaction import REDACTED, sensitive

# A route with a sensitive parameter: its regex and those parameters' names.
type _Sensitive = tuple[re.Pattern[str], tuple[str, ...]]

# A parameter in a route template: `{name}` or `{name:converter}`.
_PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")


@functools.lru_cache(maxsize=1024)  # bounded: one entry per route template
def _sensitive_parameters(template: str) -> tuple[str, ...]:
    return tuple(name for name in _PARAMETER.findall(template) if sensitive(name))


def route_template(scope: Scope) -> str | None:
    """The matched route's template (`/v1/items/{item_id}`), never the raw path; None before
    routing or when no route matched."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return path if isinstance(path, str) else None


def redacted_path(scope: Scope, template: str | None) -> str:
    """The request's path with the value of each sensitive path parameter of its route
    (`template`, the matched route's path format; None if no route matched) replaced by
    `REDACTED`."""
    path: str = scope["path"]
    if template is None:
        return _unrouted_path(scope)
    if "{" not in template:
        return path  # no parameter in the route: nothing to look up
    names = _sensitive_parameters(template)
    if not names:
        return path
    route_path = _route_path(scope)
    regex = getattr(scope.get("route"), "path_regex", None)
    match = regex.match(route_path) if isinstance(regex, re.Pattern) else None
    if match is None:
        return template  # cannot say where the value is: the template, which holds none
    return _replaced(path, len(path) - len(route_path), match, names)


def _route_path(scope: Scope) -> str:
    """The path below the root path (a proxy's prefix, a mount's), which routes match."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _unrouted_path(scope: Scope) -> str:
    """A path no route answered, redacted as the first of the app's routes with a sensitive
    parameter that matches it, as sent or with its trailing slash added or removed (Starlette's
    `redirect_slashes` rule). Only those routes are tried: a path another route would answer
    first may lose a value it did not need to, never keep one it should not."""
    path: str = scope["path"]
    candidates = _sensitive_routes(scope.get("app"))
    if not candidates:
        return path  # most apps: no route names a credential, nothing to match
    route_path = _route_path(scope)
    toggled = route_path.rstrip("/") if route_path.endswith("/") else f"{route_path}/"
    for candidate in (route_path, toggled):
        for regex, names in candidates:
            match = regex.match(candidate)
            if match is not None:
                return _replaced(path, len(path) - len(route_path), match, names)
    return path


# Kept in the app's state: its routes with a sensitive parameter, and the count of routes they
# were read from; found once, not on every 404 or refusal (a flood of them included).
_STATE_KEY = "chassis_sensitive_path_routes"


def _sensitive_routes(app: object) -> tuple[_Sensitive, ...]:
    state = getattr(app, "state", None)
    routes = getattr(getattr(app, "router", None), "routes", None) or ()
    if state is None or not routes:
        return ()
    known: tuple[int, tuple[_Sensitive, ...]] | None = getattr(state, _STATE_KEY, None)
    if known is not None and known[0] == len(routes):
        return known[1]
    found: list[_Sensitive] = []
    for route in _flattened(routes):
        regex = getattr(route, "path_regex", None)
        template = getattr(route, "path_format", None)
        if isinstance(regex, re.Pattern) and isinstance(template, str):
            names = _sensitive_parameters(template)
            if names:
                found.append((regex, names))
    setattr(state, _STATE_KEY, (len(routes), tuple(found)))
    return tuple(found)


def _flattened(routes: Iterable[object]) -> Iterator[object]:
    """The routes in matching order, those of an included router (FastAPI keeps each one's
    routes in it, `effective_route_contexts`) in its place."""
    for route in routes:
        contexts = getattr(route, "effective_route_contexts", None)
        if callable(contexts):
            yield from contexts()
        else:
            yield route


def _replaced(path: str, offset: int, match: re.Match[str], names: tuple[str, ...]) -> str:
    """`path` with each named group of `match` (on the path from `offset` on) as `REDACTED`."""
    redacted, end = [], 0
    for start, stop in sorted(match.span(name) for name in names):
        redacted += [path[end : offset + start], REDACTED]
        end = offset + stop
    return "".join([*redacted, path[end:]])
