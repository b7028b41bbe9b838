"""ARCH-1/PERF: the service's routes are tried before the chassis's, and cannot hide them.

Routing tries routers in order and every router it passes costs the request a match against
each of its routes, so the API (requested most) comes first and the probes and sessions (least)
after. The price of that order: a service route whose path also matches a chassis route would
now take its requests, so such a service refuses to start, naming the route.
"""

from __future__ import annotations

import dataclasses

import pytest
from fastapi import APIRouter
from fastapi.routing import iter_route_contexts

from goldenpath_chassis import Domain, Service
from goldenpath_chassis.security import Public

from tests.example.service import SERVICE

pytestmark = pytest.mark.unit


def with_domain(router: APIRouter) -> Service:
    extra = Domain(name="extra", routers=(router,))
    return dataclasses.replace(SERVICE, domains=lambda: (*SERVICE.domains(), extra))


def test_arch1_the_services_routes_are_tried_before_the_chassiss() -> None:
    app = SERVICE.create_app(SERVICE.load_settings(app_env="test"))
    paths = [str(route.path) for route in iter_route_contexts(app.routes)]
    first_chassis = min(paths.index("/health/live"), paths.index("/v1/auth/session"))
    last_service = max(i for i, path in enumerate(paths) if path.startswith("/v1/widgets"))
    assert last_service < first_chassis, paths
    # And every route is still there: the widgets', the probes, the sessions and /metrics.
    assert {"/v1/widgets", "/health/ready", "/v1/auth/session", "/metrics"} <= set(paths)


@pytest.mark.parametrize(
    ("prefix", "path", "methods"),
    [
        ("/v1/auth", "/{anything}", ["GET"]),
        ("/v1/{kind}", "/session", ["POST", "PUT"]),
    ],
)
def test_arch1_a_route_that_would_answer_a_chassis_path_is_refused_at_start(
    prefix: str, path: str, methods: list[str]
) -> None:
    router = APIRouter(prefix=prefix, dependencies=[Public])
    router.add_api_route(path, lambda: None, methods=methods)
    service = with_domain(router)
    with pytest.raises(ValueError, match="hide the chassis's") as refused:
        service.create_app(service.load_settings(app_env="test"))
    expected = f"domain extra: {prefix}{path} answers the chassis's /v1/auth/session"
    assert expected in str(refused.value)


def test_arch1_a_route_beside_a_chassis_path_is_accepted() -> None:
    # The same path pattern for a method the chassis does not serve there, a path that only
    # shares a prefix, and a parameter whose convertor refuses "session": none takes a chassis
    # route's requests.
    router = APIRouter(prefix="/v1/auth", dependencies=[Public])
    router.add_api_route("/{anything}", lambda: None, methods=["PUT"])
    router.add_api_route("/sessions", lambda: None, methods=["GET"])
    router.add_api_route("/{number:int}", lambda: None, methods=["GET"])
    service = with_domain(router)
    app = service.create_app(service.load_settings(app_env="test"))
    assert "/v1/auth/{anything}" in {str(route.path) for route in iter_route_contexts(app.routes)}
