"""OBS-2/OBS-3: a credential in a request's path (an invitation's token) reaches no span and
no log line, while the rest of the path, other parameters' values included, reads as sent."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from starlette.routing import Mount
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from goldenpath_chassis import ChassisSettings, Domain, Service
from goldenpath_chassis._core.security.scopes import declare_public_path
from goldenpath_chassis.security import CurrentPrincipal
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.otlp import OtlpReceiver

from tests.example.service import SERVICE

pytestmark = pytest.mark.integration

TOKEN = "inv-3e9a51c7d2"  # the credential no span or log line may hold
FAILING_TOKEN = "fail-8b0c44e1"
SHARE_TOKEN = "shr-5d1f0a9b7c"
PHOTO_KEY = "pk-7a2e9c1d44"
router = APIRouter(prefix="/v1/invitations")


class InvitationFailedError(RuntimeError):
    """Raised for a token starting with `fail-`; its message holds no part of the token."""


@router.get("/{invitation_token}/guests/{guest_id}")
async def guest(invitation_token: str, guest_id: str, _: CurrentPrincipal) -> dict[str, str]:
    return {"guest": guest_id}


@router.get("/{invitation_token}")
async def invitation(invitation_token: str, _: CurrentPrincipal) -> dict[str, bool]:
    if invitation_token.startswith("fail-"):
        raise InvitationFailedError("the invitation could not be read")
    return {"valid": True}


# A sub-application mounted below a router mounted at a path with a token in it: the token is
# a parameter of the outer mount, the photo's key one of the sub-application's route.
photos = FastAPI()


@photos.get("/photos/{photo_key}")
async def photo(photo_key: str) -> dict[str, str]:
    if photo_key.startswith("fail-"):
        raise InvitationFailedError("the photo could not be read")
    return {"photo": "found"}


shares = APIRouter(prefix="/v1/shares")  # its prefix is not put before a mount's path
shares.routes.append(
    Mount("/v1/shares/{share_token}", routes=[Mount("/albums/{album_id}", app=photos)])
)


# Session-scoped like the fixture it replaces, which the database fixtures depend on.
@pytest.fixture(scope="session")
def service() -> Service:
    invitations = Domain(name="invitations", routers=(router, shares))
    return dataclasses.replace(SERVICE, domains=lambda: (*SERVICE.domains(), invitations))


def create_app(service: Service, settings: ChassisSettings) -> FastAPI:
    app = service.create_app(settings)
    declare_public_path(app, "/v1/shares/{share_token}/{path}")  # a mount has no dependencies
    return app


def lines(logs: Sequence[Mapping[str, Any]], event: str) -> list[Mapping[str, Any]]:
    return [line for line in logs if line["event"] == event]


async def test_obs2_obs3_a_token_in_the_path_reaches_no_span_or_log_line(
    service: Service,
    traced_settings: ChassisSettings,
    receiver: OtlpReceiver,
    auth_headers: dict[str, str],
) -> None:
    widget_id = uuid.uuid4()
    app = create_app(service, traced_settings)
    async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
        with capture_logs(processors=[merge_contextvars]) as logs:
            answered = await client.get(f"/v1/invitations/{TOKEN}/guests/g-42")
            failed = await client.get(f"/v1/invitations/{FAILING_TOKEN}")
            missing = await client.get(f"/v1/widgets/{widget_id}")
    assert answered.status_code == 200, answered.text
    assert failed.status_code == 500
    assert missing.status_code == 404

    guest_span = receiver.wait_for(
        lambda s: s.name == "GET /v1/invitations/{invitation_token}/guests/{guest_id}"
    )
    assert guest_span.attributes["url.path"] == "/v1/invitations/REDACTED/guests/g-42"
    failed_span = receiver.wait_for(lambda s: s.name == "GET /v1/invitations/{invitation_token}")
    assert failed_span.attributes["url.path"] == "/v1/invitations/REDACTED"
    # A parameter whose name says nothing of a credential keeps its value: IDs stay readable.
    widget_span = receiver.wait_for(lambda s: s.name == "GET /v1/widgets/{widget_id}")
    assert widget_span.attributes["url.path"] == f"/v1/widgets/{widget_id}"

    access = {line["http_route"]: line["url_path"] for line in lines(logs, "request")}
    assert access == {
        "/v1/invitations/{invitation_token}/guests/{guest_id}": (
            "/v1/invitations/REDACTED/guests/g-42"
        ),
        "/v1/invitations/{invitation_token}": "/v1/invitations/REDACTED",
        "/v1/widgets/{widget_id}": f"/v1/widgets/{widget_id}",
    }
    (unhandled,) = lines(logs, "unhandled_error")
    assert unhandled["url_path"] == "/v1/invitations/REDACTED"
    for secret in (TOKEN, FAILING_TOKEN):
        for span in receiver.received():
            assert secret not in repr(span), span.name
        assert secret not in repr(logs)


async def test_obs2_obs3_a_token_in_a_path_no_route_answered_reaches_no_span_or_log_line(
    service: Service,
    traced_overrides: dict[str, str],
    receiver: OtlpReceiver,
    auth_headers: dict[str, str],
) -> None:
    """Refused before routing (the per-IP limit's 429) or not found (a trailing slash added to
    the link): the path is redacted as the route it would have matched."""
    settings = service.load_settings(**traced_overrides, rate_limit_per_ip="2/minute")
    app = create_app(service, settings)
    paths = [
        f"/v1/invitations/{TOKEN}/",
        f"/v1/invitations/{TOKEN}",
        f"/v1/invitations/{TOKEN}/guests/g-42",
    ]
    async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
        with capture_logs(processors=[merge_contextvars]) as logs:
            statuses = [(await client.get(path)).status_code for path in paths]
    assert statuses == [404, 200, 429]

    assert [(line["status"], line["url_path"]) for line in lines(logs, "request")] == [
        (404, "/v1/invitations/REDACTED/"),
        (200, "/v1/invitations/REDACTED"),
        (429, "/v1/invitations/REDACTED/guests/g-42"),
    ]
    not_found = receiver.wait_for(lambda s: s.attributes.get("http.response.status_code") == 404)
    refused = receiver.wait_for(lambda s: s.attributes.get("http.response.status_code") == 429)
    assert not_found.attributes["url.path"] == "/v1/invitations/REDACTED/"
    assert refused.attributes["url.path"] == "/v1/invitations/REDACTED/guests/g-42"
    for span in receiver.received():
        assert TOKEN not in repr(span), span.name
    assert TOKEN not in repr(logs)


async def test_obs2_obs3_a_token_in_a_mount_s_path_reaches_no_span_or_log_line(
    service: Service,
    traced_settings: ChassisSettings,
    receiver: OtlpReceiver,
) -> None:
    """The route is the whole chain, each mount's prefix and the inner route: a parameter of
    the mount is redacted like one of the route's, answered, failed or not found inside."""
    app = create_app(service, traced_settings)
    album = f"/v1/shares/{SHARE_TOKEN}/albums/a-1"
    async with asgi_client(app, lifespan=True) as client:
        with capture_logs(processors=[merge_contextvars]) as logs:
            answered = await client.get(f"{album}/photos/{PHOTO_KEY}")
            failed = await client.get(f"{album}/photos/{FAILING_TOKEN}")
            missing = await client.get(f"{album}/videos/v-1")
    assert (answered.status_code, failed.status_code, missing.status_code) == (200, 500, 404)

    route = "/v1/shares/{share_token}/albums/{album_id}/photos/{photo_key}"
    redacted = "/v1/shares/REDACTED/albums/a-1/photos/REDACTED"
    access = [
        (line["status"], line["http_route"], line["url_path"]) for line in lines(logs, "request")
    ]
    assert access == [
        (200, route, redacted),
        (500, route, redacted),
        (404, None, "/v1/shares/REDACTED/albums/a-1/videos/v-1"),
    ]
    (unhandled,) = lines(logs, "unhandled_error")
    assert unhandled["url_path"] == redacted
    span = receiver.wait_for(lambda s: s.name == f"GET {route}")
    assert span.attributes["url.path"] == redacted
    assert span.attributes["http.route"] == route
    not_found = receiver.wait_for(lambda s: s.attributes.get("http.response.status_code") == 404)
    assert not_found.attributes["url.path"] == "/v1/shares/REDACTED/albums/a-1/videos/v-1"
    for secret in (SHARE_TOKEN, PHOTO_KEY, FAILING_TOKEN):
        for span in receiver.received():
            assert secret not in repr(span), span.name
        assert secret not in repr(logs)


async def test_obs2_obs3_a_token_in_a_path_no_route_matches_reaches_no_span_or_log_line(
    service: Service,
    traced_settings: ChassisSettings,
    receiver: OtlpReceiver,
    auth_headers: dict[str, str],
) -> None:
    """A wrong link that starts like a route with a sensitive parameter loses the value of
    that parameter, whatever follows it; an ordinary 404 is kept as sent."""
    app = create_app(service, traced_settings)
    async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
        with capture_logs(processors=[merge_contextvars]) as logs:
            for path in (
                f"/v1/invitations/{TOKEN}/extra",
                f"/v1/invitations/{TOKEN}/guests/g-42/extra/",
                "/v1/nowhere/n-1",
            ):
                assert (await client.get(path)).status_code == 404

    assert [line["url_path"] for line in lines(logs, "request")] == [
        "/v1/invitations/REDACTED/extra",
        "/v1/invitations/REDACTED/guests/g-42/extra/",
        "/v1/nowhere/n-1",
    ]
    receiver.wait_for(lambda s: s.attributes.get("url.path") == "/v1/nowhere/n-1")
    paths = {span.attributes.get("url.path") for span in receiver.received()}
    assert "/v1/invitations/REDACTED/extra" in paths
    for span in receiver.received():
        assert TOKEN not in repr(span), span.name
    assert TOKEN not in repr(logs)


async def test_obs3_a_500_s_path_is_redacted_once_for_both_its_lines(
    service: Service, traced_settings: ChassisSettings, auth_headers: dict[str, str]
) -> None:
    app = create_app(service, traced_settings)
    async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
        with capture_logs(processors=[merge_contextvars]) as logs:
            assert (await client.get(f"/v1/invitations/{FAILING_TOKEN}")).status_code == 500
    (unhandled,) = lines(logs, "unhandled_error")
    (access,) = lines(logs, "request")
    # Each redaction builds a new string: the same object in both lines is one redaction.
    assert unhandled["url_path"] == "/v1/invitations/REDACTED"
    assert access["url_path"] is unhandled["url_path"]
