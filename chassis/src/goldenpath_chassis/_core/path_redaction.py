"""Credentials in a request's path kept out of spans and logs: path parameters whose name says
they hold one.

Some links carry their credential in the path (`/v1/invitations/{invitation_token}`, a password
reset's or an unsubscribe link's token). The path reaches the request's span (`url.path`), its
access-log line and the line of an unhandled error. The value of each parameter whose name is
sensitive by the query-string rule (`url_redaction.sensitive`: `token`, `secret`, `key`, `code`,
...) becomes `REDACTED` there; every other byte of the path is kept, so an item's ID still reads
as sent.

The parameters are those of the route that answered, the whole of it: the path of each mount
the request went through (a sub-application's or a router's, `/v1/shares/{share_token}`), each
prefix its router was included with (`include_router(router, prefix="/v1/orders")`, a router
included in one that was included, `prefix="/shares/{share_token}"`), and the route's own path.
That whole template is also the request's route (its span's name and `http.route`, the access
log's `http_route`, the duration metric's label): a router included under `/v1` and `/v2`
gives each its own. A request no route answered (one refused before routing, a 429 or a 431,
or not found) is matched against the app's routes and mounts with a sensitive parameter, each
cut after its last one: a path that starts like one (`/v1/invitations/{invitation_token}`,
then a trailing slash or a wrong `/extra`) loses the values of those parameters, whatever
follows.

What this relies on besides Starlette's public routing classes (`Mount`, its `path` and
`routes`, a route's `path_format` and `path_regex`, `compile_path`): the scope's `route` (the
matched route, set by Starlette's and FastAPI's routers; for a route of an included router,
FastAPI's own route as declared, without the prefixes, one object for all its inclusions),
`root_path` (grown by each mount by its part of the path) and `app_root_path` (the app's own
root path, set by the first mount; Starlette's `Request.url_for` reads it too); and FastAPI's
`iter_route_contexts`, which lists each inclusion of an included router's routes with its
prefixes, as the chassis's access checks do (`security/scopes.py`). Which inclusion answered is
the first, in routing order, whose path matches, as routing tried them; FastAPI records it in
the scope too, but under a private key.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from fastapi.routing import iter_route_contexts
from starlette.convertors import CONVERTOR_TYPES
from starlette.routing import BaseRoute, Mount, compile_path
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
    path and each include prefix before it; None before routing or when none did) and the
    request's path with the value of each sensitive parameter replaced by `REDACTED`. `app` is
    the app whose routes the request was matched against (a mounted sub-application sets the
    scope's own `app`)."""
    path: str = scope["path"]
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str):
        return None, _unrouted_path(scope, app)
    app_root = scope.get("app_root_path")
    if app_root is not None and scope.get("root_path", "") != app_root:
        return _mounted(scope, app, route, template)
    if path == template:
        return template, path  # no parameter, include prefix or root path: nothing to look up
    root = scope.get("root_path")  # a proxy's prefix: routes match the path below it
    route_path = path[len(root) :] if root and path.startswith(root) else path
    own = _own_template(template)
    if route_path.count("/") == own.slashes:
        # Answered as declared: an include prefix adds a slash at least (a parameter's value
        # may add more, with the `path` convertor: then the route's inclusions are looked up).
        names = own.sensitive
        match = _matched(getattr(route, "path_regex", None), route_path) if names else None
    else:
        template, match = _answered(app, route, template, route_path)
        names = _sensitive_parameters(template)  # the prefixes' too
        if match is None:
            # Not even which prefixes it came under: their parameters may hold credentials.
            return template, template
    return template, _redacted(path, route_path, template, match, names)


def _redacted(
    path: str, route_path: str, template: str, match: re.Match[str] | None, names: Sequence[str]
) -> str:
    """`path` with the value of each of `names` where `match` (of its part below the root path)
    found it; the template, which holds none, where the match cannot say."""
    if not names:
        return path
    if match is None:
        return template
    offset = len(path) - len(route_path)
    return _replaced(path, [_moved(match.span(name), offset) for name in names])


@dataclass(frozen=True, slots=True)
class _OwnTemplate:
    """A route's template as declared (without the prefixes it may be included with)."""

    slashes: int
    sensitive: tuple[str, ...]


@functools.lru_cache(maxsize=1024)  # bounded: one entry per route template
def _own_template(template: str) -> _OwnTemplate:
    return _OwnTemplate(template.count("/"), _sensitive_parameters(template))


def _answered(
    app: object, route: object, template: str, route_path: str
) -> tuple[str, re.Match[str] | None]:
    """The whole template of the inclusion of `route` that answered `route_path` (a router
    included under `/v1` and `/v2` has two), its include prefixes before the route's own
    `template`, and the match of `route_path` against it. The first inclusion, in routing
    order, to match is the one routing chose; a route no include prefix reaches is its own.

    A route none of the inclusions read explains was added since they were read (to a router
    included before, which leaves the app's count of routes as it was): they are read again,
    once for that route. Still unexplained, the match is None."""
    routes = _routes_of(app)
    found = _inclusion_of(routes, route, template, route_path)
    if found is None and routes is not _NO_ROUTES and id(route) not in routes.unexplained:
        routes = _routes_of(app, again=True)
        found = _inclusion_of(routes, route, template, route_path)
        if found is None:
            routes.unexplained[id(route)] = route
    return found or (template, None)


def _inclusion_of(
    routes: _Routes, route: object, template: str, route_path: str
) -> tuple[str, re.Match[str]] | None:
    for inclusion in routes.included.get(id(route), ()):
        match = inclusion.regex.match(route_path)
        if match is not None:
            return inclusion.template, match
    match = _matched(getattr(route, "path_regex", None), route_path)
    return None if match is None else (template, match)


def _matched(regex: object, route_path: str) -> re.Match[str] | None:
    return regex.match(route_path) if isinstance(regex, re.Pattern) else None


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
    # Inside the mount too, a router may be included with a prefix.
    inner, inside = _answered(app, route, inner, path[len(root) :])
    template = mount.template + inner
    spans = [_moved(match.span(group), len(app_root)) for group in mount.regex.groupindex]
    if inside is None:
        return template, template  # its include prefixes unknown, and their parameters
    spans += [_moved(inside.span(name), len(root)) for name in _sensitive_parameters(inner)]
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
class _Inclusion:
    """A route as a router included with a prefix serves it: its path from its router's root
    (the app's, or a mount's), every include prefix before the route's own, and a regex for it
    that groups each parameter's value by name."""

    route: BaseRoute  # held, so that its `id`, the key it is found by, stays its own
    template: str
    regex: re.Pattern[str]


@dataclass(frozen=True, slots=True)
class _Routes:
    """What redaction needs of an app's routes, read once per app."""

    mounts: tuple[_Mount, ...]  # every mount, in the order routing tries them
    # For paths no route answered: the start of each route or mount with a sensitive parameter.
    sensitive_starts: tuple[re.Pattern[str], ...]
    # By the `id` of the route (the one routing records in the scope): its inclusions, in
    # routing order, for each route some router includes with a prefix.
    included: Mapping[int, tuple[_Inclusion, ...]]
    # By `id`: the routes a request was answered by that this read did not explain (held, so
    # that the id stays theirs); a flood of such requests is not a read each.
    unexplained: dict[int, object] = field(default_factory=dict)


_NO_ROUTES = _Routes((), (), {})
# Kept in the app's state: what `_Routes` holds, and the count of routes it was read from; read
# once, not on every 404 or refusal (a flood of them included) or mounted request.
_STATE_KEY = "chassis_path_redaction_routes"


def _routes_of(app: object, *, again: bool = False) -> _Routes:
    """What the app's routes are, read at the first request and again when their count has
    changed, or `again`."""
    state = getattr(app, "state", None)
    routes = getattr(getattr(app, "router", None), "routes", None) or ()
    if state is None or not routes:
        return _NO_ROUTES
    known: tuple[int, _Routes] | None = getattr(state, _STATE_KEY, None)
    if known is not None and known[0] == len(routes) and not again:
        return known[1]
    mounts: list[_Mount] = []
    templates: list[str] = []
    inclusions: dict[int, list[_Inclusion]] = {}
    _read(routes, "", mounts, templates, inclusions)
    starts = dict.fromkeys(filter(None, map(_start, templates)))  # each once, in routing order
    prefixed = {
        key: tuple(found)
        for key, found in inclusions.items()
        if any(each.template != getattr(each.route, "path_format", None) for each in found)
    }
    found = _Routes(tuple(mounts), tuple(re.compile(start) for start in starts), prefixed)
    setattr(state, _STATE_KEY, (len(routes), found))
    return found


def _read(
    routes: Sequence[BaseRoute],
    prefix: str,
    mounts: list[_Mount],
    templates: list[str],
    inclusions: dict[int, list[_Inclusion]],
) -> None:
    """Every route's and mount's template below `prefix` into `templates`, in routing order;
    every mount into `mounts`, those inside it after it; every other route's path, each include
    prefix before it (FastAPI's route contexts, one for each inclusion), into `inclusions`."""
    for route in iter_route_contexts(routes):
        path = route.path
        if not isinstance(path, str):
            continue  # a host's routes, matched by its name
        template = prefix + path
        templates.append(template)
        original = route.original_route
        if isinstance(original, Mount):
            mounts.append(_Mount(template, re.compile(_pattern(template, lenient=False))))
            _read(getattr(route, "routes", None) or (), template, mounts, templates, inclusions)
            continue
        regex, path_format, _ = compile_path(path)
        inclusion = _Inclusion(original, path_format, regex)
        inclusions.setdefault(id(original), []).append(inclusion)


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
