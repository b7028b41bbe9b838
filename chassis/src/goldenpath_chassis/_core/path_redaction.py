"""Credentials in a request's path kept out of spans and logs: path parameters whose name says
they hold one.

Some links carry their credential in the path (`/v1/invitations/{invitation_token}`, a password
reset's or an unsubscribe link's token). The path reaches the request's span (`url.path`), its
access-log line and the line of an unhandled error. The value of each parameter whose name is
sensitive by the query-string rule (`url_redaction.sensitive`: `token`, `secret`, `key`, `code`,
...) becomes `REDACTED` there; every other byte of the path is kept, so an item's ID still reads
as sent.

The parameters are those of the route that answered, the whole of it: the path of each mount
the request went through (a sub-application's or a router's, `/v1/shares/{share_token}`) and
the route inside. A request no route answered (one refused before routing, a 429 or a 431, or
not found) is matched against the app's routes and mounts with a sensitive parameter, each cut
after its last one: a path that starts like one (`/v1/invitations/{invitation_token}`, then a
trailing slash or a wrong `/extra`) loses the values of those parameters, whatever follows.

What this relies on besides Starlette's public routing classes (`Mount`, its `path` and
`routes`, a route's `path_format` and `path_regex`): the scope's `route` (the matched route, set
by Starlette's and FastAPI's routers), `root_path` (grown by each mount by its part of the
path) and `app_root_path` (the app's own root path, set by the first mount; Starlette's
`Request.url_for` reads it too); and FastAPI's `iter_route_contexts`, which lists an included
router's routes with its prefix, as the chassis's access checks do (`security/scopes.py`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi.routing import iter_route_contexts
from starlette.convertors import CONVERTOR_TYPES
from starlette.routing import BaseRoute, Mount
from starlette.types import Scope

from .url_redaction import REDACTED, sensitive

# A parameter in a route template: `{name}` or `{name:converter}`.
_PARAMETER = re.compile(r"{(?P<name>\w+)(?::(?P<converter>\w+))?}")


@functools.lru_cache(maxsize=1024)  # bounded: one entry per route template
def _sensitive_parameters(template: str) -> tuple[str, ...]:
    names = (found["name"] for found in _PARAMETER.finditer(template))
    return tuple(name for name in names if sensitive(name))


def route_and_path(scope: Scope, app: object) -> tuple[str | None, str]:
    """The template of the route that answered the request (`/v1/items/{item_id}`, each mount's
    path before it; None before routing or when none did) and the request's path with the value
    of each sensitive parameter replaced by `REDACTED`. `app` is the app whose routes the
    request was matched against (a mounted sub-application sets the scope's own `app`)."""
    path: str = scope["path"]
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str):
        return None, _unrouted_path(scope, app)
    app_root = scope.get("app_root_path")
    if app_root is not None and scope.get("root_path", "") != app_root:
        return _mounted(scope, app, route, template)
    if "{" not in template:
        return template, path  # no parameter in the route: nothing to look up
    names = _sensitive_parameters(template)
    if not names:
        return template, path
    route_path = _route_path(scope)
    regex = getattr(route, "path_regex", None)
    match = regex.match(route_path) if isinstance(regex, re.Pattern) else None
    if match is None:
        return template, template  # cannot say where the value is: the template holds none
    offset = len(path) - len(route_path)
    return template, _replaced(path, [_moved(match.span(name), offset) for name in names])


def _route_path(scope: Scope) -> str:
    """The path below the root path (a proxy's prefix, a mount's), which routes match."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _mounted(scope: Scope, app: object, route: object, inner: str) -> tuple[str | None, str]:
    """A route inside one or more mounts: the root path grew by their part of the path, which
    the first of the app's mounts (or mounts inside mounts) to match it whole is the template
    of, as routing tries them."""
    if isinstance(route, Mount):
        # Starlette's router (FastAPI's does not) records the mount it passed the request to:
        # no route inside answered, or an app that is not a router did.
        return None, _unrouted_path(scope, app)
    path: str = scope["path"]
    app_root: str = scope["app_root_path"]
    root: str = scope.get("root_path", "")
    mounted = root[len(app_root) :]
    for mount in _routes_of(app).mounts:
        match = mount.regex.fullmatch(mounted)
        if match is not None:
            break
    else:
        return inner, inner  # a mount the app's routes do not list: the template holds no value
    template = mount.template + inner
    spans = [_moved(match.span(group), len(app_root)) for group in mount.regex.groupindex]
    names = _sensitive_parameters(inner)
    if names:
        regex = getattr(route, "path_regex", None)
        inside = regex.match(path[len(root) :]) if isinstance(regex, re.Pattern) else None
        if inside is None:
            return template, template
        spans += [_moved(inside.span(name), len(root)) for name in names]
    return template, _replaced(path, spans) if spans else path


def _unrouted_path(scope: Scope, app: object) -> str:
    """A path no route answered, with the values redacted of every route or mount with a
    sensitive parameter whose path, up to its last such parameter, starts it. Only those are
    tried: a path another route would answer may lose a value it did not need to, never keep
    one it should not."""
    path: str = scope["path"]
    starts = _routes_of(app).sensitive_starts
    if not starts:
        return path  # most apps: no route names a credential, nothing to match
    root = scope.get("app_root_path", scope.get("root_path", ""))
    offset = len(root) if root and path.startswith(root) else 0
    below = path[offset:]
    spans = []
    for start in starts:
        match = start.match(below)
        if match is not None:
            spans += [_moved(match.span(group), offset) for group in start.groupindex]
    return _replaced(path, spans) if spans else path


@dataclass(frozen=True, slots=True)
class _Mount:
    """A mount's path from the app's root (`/v1/shares/{share_token}`, a mount inside another
    after the other's) and a regex for its part of a request's path, which groups the values
    of its sensitive parameters."""

    template: str
    regex: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class _Routes:
    """What redaction needs of an app's routes, read once per app."""

    mounts: tuple[_Mount, ...]  # every mount, in the order routing tries them
    # For paths no route answered: the start of each route or mount with a sensitive parameter.
    sensitive_starts: tuple[re.Pattern[str], ...]


_NO_ROUTES = _Routes((), ())
# Kept in the app's state: what `_Routes` holds, and the count of routes it was read from; read
# once, not on every 404 or refusal (a flood of them included) or mounted request.
_STATE_KEY = "chassis_path_redaction_routes"


def _routes_of(app: object) -> _Routes:
    state = getattr(app, "state", None)
    routes = getattr(getattr(app, "router", None), "routes", None) or ()
    if state is None or not routes:
        return _NO_ROUTES
    known: tuple[int, _Routes] | None = getattr(state, _STATE_KEY, None)
    if known is not None and known[0] == len(routes):
        return known[1]
    mounts: list[_Mount] = []
    templates: list[str] = []
    _read(routes, "", mounts, templates)
    starts = dict.fromkeys(filter(None, map(_start, templates)))  # each once, in routing order
    found = _Routes(tuple(mounts), tuple(re.compile(start) for start in starts))
    setattr(state, _STATE_KEY, (len(routes), found))
    return found


def _read(
    routes: Sequence[BaseRoute], prefix: str, mounts: list[_Mount], templates: list[str]
) -> None:
    """Every route's and mount's template below `prefix` into `templates`, in routing order;
    every mount into `mounts`, those inside it after it."""
    for route in iter_route_contexts(routes):
        path = route.path
        if not isinstance(path, str):
            continue  # a host's routes, matched by its name
        template = prefix + path
        templates.append(template)
        if isinstance(route.original_route, Mount):
            mounts.append(_Mount(template, re.compile(_pattern(template, lenient=False))))
            _read(getattr(route, "routes", None) or (), template, mounts, templates)


def _start(template: str) -> str:
    """A lenient pattern of `template` up to its last sensitive parameter; "" if it has none."""
    last = None
    for found in _PARAMETER.finditer(template):
        if sensitive(found["name"]):
            last = found
    return "" if last is None else _pattern(template[: last.end()], lenient=True)


def _pattern(template: str, *, lenient: bool) -> str:
    """`template` as a regex that groups each sensitive parameter's value. A `lenient` one takes
    any segment for a parameter whatever its converter, as a path no route answered may have
    failed one (`{id:int}`); a path parameter still takes the rest of the path."""
    parts, end = [], 0
    for index, found in enumerate(_PARAMETER.finditer(template)):
        converter = found["converter"] or "str"
        if not lenient:
            value = CONVERTOR_TYPES[converter].regex
        else:
            value = ".*" if converter == "path" else "[^/]+"
        group = f"(?P<s{index}>{value})" if sensitive(found["name"]) else f"(?:{value})"
        parts += [re.escape(template[end : found.start()]), group]
        end = found.end()
    parts.append(re.escape(template[end:]))
    return "".join(parts)


def _moved(span: tuple[int, int], offset: int) -> tuple[int, int]:
    return span[0] + offset, span[1] + offset


def _replaced(path: str, spans: list[tuple[int, int]]) -> str:
    """`path` with each of `spans` (overlapping ones merged) as `REDACTED`."""
    redacted, end = [], 0
    for start, stop in sorted(set(spans)):
        if start < end:  # inside or across the span before: widen that one
            end = max(end, stop)
            continue
        redacted += [path[end:start], REDACTED]
        end = stop
    return "".join([*redacted, path[end:]])
