"""OBS-2/OBS-3: a credential in a request's path (an invitation's token) reaches no span and
no log line, while the rest of the path, other parameters' values included, reads as sent."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from fastapi import APIRouter
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from goldenpath_chassis import ChassisSettings, Domain, Service
from goldenpath_chassis.security import CurrentPrincipal
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.otlp import OtlpReceiver

from tests.example.service import SERVICE

pytestmark = pytest.mark.integration

TOKEN = "inv-3e9a51c7d2"  # the credential no span or log line may hold
FAILING_TOKEN = "fail-8b0c44e1"
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


# Session-scoped like the fixture it replaces, which the database fixtures depend on.
@pytest.fixture(scope="session")
def service() -> Service:
    invitations = Domain(name="invitations", routers=(router,))
    return dataclasses.replace(SERVICE, domains=lambda: (*SERVICE.domains(), invitations))


def lines(logs: Sequence[Mapping[str, Any]], event: str) -> list[Mapping[str, Any]]:
    return [line for line in logs if line["event"] == event]


async def test_obs2_obs3_a_token_in_the_path_reaches_no_span_or_log_line(
    service: Service,
    traced_settings: ChassisSettings,
    receiver: OtlpReceiver,
    auth_headers: dict[str, str],
) -> None:
    widget_id = uuid.uuid4()
    app = service.create_app(traced_settings)
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
    app = service.create_app(settings)
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
