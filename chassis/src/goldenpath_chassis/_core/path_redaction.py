"""Credentials in a request's path kept out of spans and logs: path parameters whose name says
they hold one.

Some links carry their credential in the path (`/v1/invitations/{invitation_token}`, a password
reset's or an unsubscribe link's token). The path reaches the request's span (`url.path`), its
access-log line and the line of an unhandled error. Once the route is known, the value of each
parameter whose name is sensitive by the query-string rule (`url_redaction.sensitive`: `token`,
`secret`, `key`, `code`, ...) becomes `REDACTED` there; every other byte of the path is kept, so
an item's ID still reads as sent. Before routing, or for a path no route matched, the path is
kept as it came: nothing names its parts.
"""

from __future__ import annotations

import functools
import re

from starlette.types import Scope

from .url_redaction import REDACTED, sensitive

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
    (`template`, the matched route's path format) replaced by `REDACTED`."""
    path: str = scope["path"]
    if not template or "{" not in template:
        return path  # no parameter in the route: nothing to look up
    names = _sensitive_parameters(template)
    if not names:
        return path
    root = scope.get("root_path", "")
    route_path = path[len(root) :] if root and path.startswith(root) else path
    regex = getattr(scope.get("route"), "path_regex", None)
    match = regex.match(route_path) if isinstance(regex, re.Pattern) else None
    if match is None:
        return template  # cannot say where the value is: the template, which holds none
    offset = len(path) - len(route_path)
    redacted, end = [], 0
    for start, stop in sorted(match.span(name) for name in names):
        redacted += [path[end : offset + start], REDACTED]
        end = offset + stop
    return "".join([*redacted, path[end:]])
