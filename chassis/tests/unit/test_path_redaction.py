"""OBS-2: which parts of a request's path lose their value, found by the matched route."""

from __future__ import annotations

from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Scope

from goldenpath_chassis._core.path_redaction import redacted_path, route_template


def endpoint() -> Response:
    return Response()


def routed(template: str, path: str, *, root_path: str = "") -> Scope:
    return {"path": path, "root_path": root_path, "route": Route(template, endpoint)}


def test_obs2_each_sensitive_parameter_loses_its_value_and_nothing_else() -> None:
    scope = routed("/v1/keys/{key_id}/reset/{reset_token}", "/v1/keys/k-1/reset/t-2")
    assert redacted_path(scope, route_template(scope)) == "/v1/keys/REDACTED/reset/REDACTED"
    scope = routed("/v1/items/{item_id}/{code:path}", "/v1/items/i-1/a/b")
    assert redacted_path(scope, route_template(scope)) == "/v1/items/i-1/REDACTED"


def test_obs2_a_path_under_a_root_path_keeps_its_prefix() -> None:
    scope = routed("/reset/{token}", "/api/reset/t-1", root_path="/api")
    assert redacted_path(scope, route_template(scope)) == "/api/reset/REDACTED"


def test_obs2_a_path_its_route_does_not_match_is_logged_as_the_template() -> None:
    # The value's place cannot be found: the template, which holds no value, is what is kept.
    scope = routed("/reset/{token}", "/elsewhere/t-1")
    assert redacted_path(scope, "/reset/{token}") == "/reset/{token}"


def test_obs2_paths_without_a_sensitive_parameter_or_route_are_kept() -> None:
    scope = routed("/v1/items/{item_id}", "/v1/items/i-1")
    assert redacted_path(scope, route_template(scope)) == "/v1/items/i-1"
    unrouted: Scope = {"path": "/reset/t-1"}
    assert route_template(unrouted) is None
    assert redacted_path(unrouted, None) == "/reset/t-1"
