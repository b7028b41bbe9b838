"""OBS-1/OBS-2/OBS-3: a route of a router included with a prefix (FastAPI's tutorial's
`include_router(router, prefix="/orders")`) is known by its whole template, every prefix before
its own path: the span's name and `http.route`, the access log's `http_route` and
the duration metric's label. A router included under `/v1` and `/v2` gives two routes, and a
credential in the path, in the route's own part or in a prefix, is redacted."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx
import pytest
from fastapi import APIRouter
from prometheus_client.parser import text_string_to_metric_families
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from goldenpath_chassis import ChassisSettings, Domain, Service
from goldenpath_chassis.security import Public
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.otlp import OtlpReceiver, ReceivedSpan

from tests.example.service import SERVICE

pytestmark = pytest.mark.integration

INVITE_TOKEN = "inv-6c2f8e0a41"  # the credentials no span or log line may hold
SHARE_TOKEN = "shr-0d7b3a95e2"

# Declared without a prefix: each inclusion gives its own.
orders = APIRouter(dependencies=[Public])


@orders.get("")
async def list_orders() -> list[str]:
    return []


@orders.get("/{order_id}")
async def get_order(order_id: str) -> dict[str, str]:
    return {"order": order_id}


@orders.get("/{order_id}/invites/{invite_token}")
async def get_invite(order_id: str, invite_token: str) -> dict[str, str]:
    return {"order": order_id}


files = APIRouter(dependencies=[Public])


@files.get("/files/{file_id}")
async def get_shared_file(share_token: str, file_id: str) -> dict[str, str]:
    return {"file": file_id}


# Nested: `orders` under `/orders` in a router included in one under `/v1/shop` and in one
# under `/v2/shop` (a domain's routers are under a version).
shop = APIRouter()
shop.include_router(orders, prefix="/orders")
shop_v1 = APIRouter(prefix="/v1/shop")
shop_v1.include_router(shop)
shop_v2 = APIRouter(prefix="/v2/shop")
shop_v2.include_router(shop)
shares = APIRouter(prefix="/v1/shares")
shares.include_router(files, prefix="/{share_token}")  # a credential in the prefix


# Session-scoped like the fixture it replaces, which the database fixtures depend on.
@pytest.fixture(scope="session")
def service() -> Service:
    prefixed = Domain(name="prefixed", routers=(shop_v1, shop_v2, shares))
    return dataclasses.replace(SERVICE, domains=lambda: (*SERVICE.domains(), prefixed))


def requests(logs: Sequence[Mapping[str, Any]]) -> list[tuple[str | None, str]]:
    return [(line["http_route"], line["url_path"]) for line in logs if line["event"] == "request"]


async def test_obs1_obs2_a_prefixed_route_is_named_by_its_whole_template(
    service: Service, traced_settings: ChassisSettings, receiver: OtlpReceiver
) -> None:
    app = service.create_app(traced_settings)
    async with asgi_client(app, lifespan=True) as client:
        with capture_logs(processors=[merge_contextvars]) as logs:
            for path in ("/v1/shop/orders", "/v1/shop/orders/o-1", "/v2/shop/orders/o-2"):
                assert (await client.get(path)).status_code == 200, path

    assert requests(logs) == [
        ("/v1/shop/orders", "/v1/shop/orders"),
        ("/v1/shop/orders/{order_id}", "/v1/shop/orders/o-1"),
        ("/v2/shop/orders/{order_id}", "/v2/shop/orders/o-2"),
    ]
    for route in ("/v1/shop/orders", "/v1/shop/orders/{order_id}", "/v2/shop/orders/{order_id}"):
        span = receiver.wait_for(named(f"GET {route}"))
        assert span.attributes["http.route"] == route


def named(name: str) -> Callable[[ReceivedSpan], bool]:
    return lambda span: span.name == name


async def scraped_routes(client: httpx.AsyncClient) -> dict[str, float]:
    """The duration metric's request count by route, of GET requests answered 200."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    return {
        sample.labels["http_route"]: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == "http_server_request_duration_seconds_count"
        and sample.labels["http_request_method"] == "GET"
        and sample.labels["http_response_status_code"] == "200"
    }


async def test_obs1_a_router_included_under_two_prefixes_gives_two_route_labels(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/v1/shop/orders/o-1", "/v1/shop/orders/o-2", "/v2/shop/orders/o-3"):
        assert (await client.get(path)).status_code == 200, path
    counts = await scraped_routes(client)
    assert counts["/v1/shop/orders/{order_id}"] == 2
    assert counts["/v2/shop/orders/{order_id}"] == 1
    assert "/{order_id}" not in counts  # the route as declared


async def test_obs2_obs3_a_token_under_a_prefix_is_redacted_and_the_rest_of_the_path_kept(
    service: Service, traced_settings: ChassisSettings, receiver: OtlpReceiver
) -> None:
    app = service.create_app(traced_settings)
    async with asgi_client(app, lifespan=True) as client:
        with capture_logs(processors=[merge_contextvars]) as logs:
            answered = await client.get(f"/v2/shop/orders/o-1/invites/{INVITE_TOKEN}")
            missing = await client.get(f"/v2/shop/orders/o-1/invites/{INVITE_TOKEN}/extra")
    assert (answered.status_code, missing.status_code) == (200, 404)

    route = "/v2/shop/orders/{order_id}/invites/{invite_token}"
    assert requests(logs) == [
        (route, "/v2/shop/orders/o-1/invites/REDACTED"),
        (None, "/v2/shop/orders/o-1/invites/REDACTED/extra"),
    ]
    span = receiver.wait_for(lambda s: s.name == f"GET {route}")
    assert span.attributes["http.route"] == route
    assert span.attributes["url.path"] == "/v2/shop/orders/o-1/invites/REDACTED"
    receiver.wait_for(lambda s: s.attributes.get("http.response.status_code") == 404)
    for span in receiver.received():
        assert INVITE_TOKEN not in repr(span), span.name
    assert INVITE_TOKEN not in repr(logs)


async def test_obs2_obs3_a_token_in_an_include_prefix_is_redacted(
    service: Service, traced_settings: ChassisSettings, receiver: OtlpReceiver
) -> None:
    app = service.create_app(traced_settings)
    async with asgi_client(app, lifespan=True) as client:
        with capture_logs(processors=[merge_contextvars]) as logs:
            answered = await client.get(f"/v1/shares/{SHARE_TOKEN}/files/f-1")
            missing = await client.get(f"/v1/shares/{SHARE_TOKEN}/albums/a-1")
    assert (answered.status_code, missing.status_code) == (200, 404)

    route = "/v1/shares/{share_token}/files/{file_id}"
    assert requests(logs) == [
        (route, "/v1/shares/REDACTED/files/f-1"),
        (None, "/v1/shares/REDACTED/albums/a-1"),
    ]
    span = receiver.wait_for(lambda s: s.name == f"GET {route}")
    assert span.attributes["url.path"] == "/v1/shares/REDACTED/files/f-1"
    receiver.wait_for(lambda s: s.attributes.get("http.response.status_code") == 404)
    for span in receiver.received():
        assert SHARE_TOKEN not in repr(span), span.name
    assert SHARE_TOKEN not in repr(logs)
