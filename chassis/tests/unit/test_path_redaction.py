"""OBS-2: which parts of a request's path lose their value, found by the matched route, or for
a path no route answered by the routes and mounts it starts like."""

from __future__ import annotations

import httpx
from fastapi import APIRouter, FastAPI, Request
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.types import Scope

from goldenpath_chassis._core.path_redaction import route_and_path


def endpoint() -> Response:
    return Response()


def routed(template: str, path: str, *, root_path: str = "") -> Scope:
    return {"path": path, "root_path": root_path, "route": Route(template, endpoint)}


def test_obs2_each_sensitive_parameter_loses_its_value_and_nothing_else() -> None:
    scope = routed("/v1/keys/{key_id}/reset/{reset_token}", "/v1/keys/k-1/reset/t-2")
    assert route_and_path(scope, None) == (
        "/v1/keys/{key_id}/reset/{reset_token}",
        "/v1/keys/REDACTED/reset/REDACTED",
    )
    scope = routed("/v1/items/{item_id}/{code:path}", "/v1/items/i-1/a/b")
    assert route_and_path(scope, None) == ("/v1/items/{item_id}/{code}", "/v1/items/i-1/REDACTED")


def test_obs2_a_path_under_a_root_path_keeps_its_prefix() -> None:
    scope = routed("/reset/{token}", "/api/reset/t-1", root_path="/api")
    assert route_and_path(scope, None) == ("/reset/{token}", "/api/reset/REDACTED")


def test_obs2_a_path_its_route_does_not_match_is_logged_as_the_template() -> None:
    # The value's place cannot be found: the template, which holds no value, is what is kept.
    scope = routed("/reset/{token}", "/elsewhere/t-1")
    assert route_and_path(scope, None) == ("/reset/{token}", "/reset/{token}")


def test_obs2_paths_without_a_sensitive_parameter_or_route_are_kept() -> None:
    scope = routed("/v1/items/{item_id}", "/v1/items/i-1")
    assert route_and_path(scope, None) == ("/v1/items/{item_id}", "/v1/items/i-1")
    assert route_and_path({"path": "/reset/t-1"}, None) == (None, "/reset/t-1")


APP = Starlette(
    routes=[
        Route("/v1/items/{item_id:int}", endpoint),
        Route("/v1/grants/{grant_token:int}/items/{item_id}", endpoint),
        Mount(
            "/v1/shares/{share_token}",
            routes=[Route("/photos/{photo_key}/{size}", endpoint), Route("/about", endpoint)],
        ),
    ]
)


def unrouted(path: str, *, root_path: str = "") -> str:
    return route_and_path({"path": path, "root_path": root_path}, APP)[1]


def test_obs2_a_path_no_route_answered_loses_each_value_of_the_routes_it_starts_like() -> None:
    # Both the mount's and the route's inside it: the token and the photo's key.
    assert unrouted("/v1/shares/s-1/photos/p-2/large/extra") == (
        "/v1/shares/REDACTED/photos/REDACTED/large/extra"
    )
    assert unrouted("/api/v1/shares/s-1/", root_path="/api") == "/api/v1/shares/REDACTED/"
    # A converter the path fails (a wrong link) does not keep the value.
    assert unrouted("/v1/grants/g-1x/items") == "/v1/grants/REDACTED/items"
    assert unrouted("/v1/items/not-a-number/extra") == "/v1/items/not-a-number/extra"
    assert unrouted("/v1/sharesX/s-1") == "/v1/sharesX/s-1"


def test_obs2_a_route_inside_a_mount_is_the_mount_s_path_and_its_own() -> None:
    inner = APP.routes[2].routes[0]  # type: ignore[attr-defined]
    scope: Scope = {
        "path": "/api/v1/shares/s-1/photos/p-2/large",
        "app_root_path": "/api",
        "root_path": "/api/v1/shares/s-1",
        "route": inner,
    }
    assert route_and_path(scope, APP) == (
        "/v1/shares/{share_token}/photos/{photo_key}/{size}",
        "/api/v1/shares/REDACTED/photos/REDACTED/large",
    )


# Routed for real: each endpoint answers what `route_and_path` says of its own request.
async def said(request: Request) -> list[str | None]:
    return list(route_and_path(request.scope, INCLUDED))


blobs = APIRouter()
blobs.add_api_route("/blobs/{blob_token:path}", said)
photos = APIRouter()
photos.add_api_route("/photos/{photo_key}", said)
album = FastAPI()
album.include_router(photos, prefix="/albums/{album_id}")
INCLUDED = FastAPI()
INCLUDED.include_router(blobs)  # as declared, then under a prefix
INCLUDED.include_router(blobs, prefix="/v2")
INCLUDED.mount("/v1/shares/{share_token}", album)


async def routed_by_included(path: str, *, root_path: str = "") -> list[str | None]:
    transport = httpx.ASGITransport(app=INCLUDED, root_path=root_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(path)
    assert response.status_code == 200, response.text
    answer: list[str | None] = response.json()
    return answer


async def test_obs2_a_route_included_as_declared_and_under_a_prefix_is_the_one_that_answered() -> (
    None
):
    # A `path` parameter's value holds slashes of its own: the inclusion is looked up.
    assert await routed_by_included("/blobs/a/b") == ["/blobs/{blob_token}", "/blobs/REDACTED"]
    assert await routed_by_included("/v2/blobs/a/b") == [
        "/v2/blobs/{blob_token}",
        "/v2/blobs/REDACTED",
    ]
    assert await routed_by_included("/api/v2/blobs/a", root_path="/api") == [
        "/v2/blobs/{blob_token}",
        "/api/v2/blobs/REDACTED",
    ]


async def test_obs2_a_router_included_with_a_prefix_inside_a_mount_is_the_whole_chain() -> None:
    assert await routed_by_included("/v1/shares/s-1/albums/a-1/photos/p-2") == [
        "/v1/shares/{share_token}/albums/{album_id}/photos/{photo_key}",
        "/v1/shares/REDACTED/albums/a-1/photos/REDACTED",
    ]


async def said_of_its_app(request: Request) -> list[str | None]:
    return list(route_and_path(request.scope, request.app))


async def answered_by(app: FastAPI, path: str) -> list[str | None]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(path)
    assert response.status_code == 200, response.text
    answer: list[str | None] = response.json()
    return answer


async def test_obs2_a_route_added_to_an_included_router_after_a_request_is_known_and_redacted() -> (
    None
):
    # The app's count of routes is unchanged: the routes read at the first request are stale.
    shared = APIRouter()
    shared.add_api_route("/files", said_of_its_app)
    app = FastAPI(redirect_slashes=False)
    app.include_router(shared, prefix="/v1/shares/{share_token}")
    assert await answered_by(app, "/v1/shares/s-1/files") == [
        "/v1/shares/{share_token}/files",
        "/v1/shares/REDACTED/files",
    ]
    shared.add_api_route("/photos", said_of_its_app)
    assert await answered_by(app, "/v1/shares/s-2/photos") == [
        "/v1/shares/{share_token}/photos",
        "/v1/shares/REDACTED/photos",
    ]


def test_obs2_a_route_its_app_does_not_list_gives_its_template_not_the_path() -> None:
    # Answered by a route of another app (the routes cannot say where a credential is): the
    # path is not given, once the routes were read again, and no read is repeated for it.
    stray = APIRouter()
    stray.add_api_route("/files", said_of_its_app)
    route = stray.routes[0]
    app = FastAPI()
    app.include_router(APIRouter(), prefix="/v1")
    scope = {"type": "http", "path": "/v1/shares/s-1/files", "root_path": "", "route": route}
    assert route_and_path(scope, app) == ("/files", "/files")
    read = app.state.chassis_path_redaction_routes
    assert route_and_path(scope, app) == ("/files", "/files")
    assert app.state.chassis_path_redaction_routes is read
