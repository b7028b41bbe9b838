"""The chassis's standards, wired into this service: a short smoke through the real app.

Each standard is tested in depth once, in the chassis's own suite. These tests prove that this
service gets them: every route of its domains declares its access and refuses anonymous callers
(SEC-3), errors are problem details (OBS-4), answers carry the security headers (SEC-5), the
health endpoints answer (INF-2), /metrics counts its requests (OBS-1), its spans reach an OTLP
receiver and continue the caller's W3C trace (OBS-2), and its request IDs are echoed and on its
log lines (OBS-3).
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from goldenpath_chassis import Service, chassis_of
from goldenpath_chassis.security import METRICS_SCOPE, route_access
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.auth import TokenFactory
from goldenpath_chassis.testing.databases import delete_all_rows
from goldenpath_chassis.testing.otlp import (
    SPAN_KIND_CLIENT,
    SPAN_KIND_SERVER,
    OtlpReceiver,
    otlp_receiver,
)
from prometheus_client.parser import text_string_to_metric_families
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

pytestmark = [pytest.mark.integration, pytest.mark.database]

PROBLEM = "application/problem+json"
# Routes of this service's own that anyone may call: none. Adding one is a deliberate decision,
# made visible here (the chassis's public routes, /health and /docs, are the chassis's).
OWN_PUBLIC_ROUTES: set[tuple[str, str]] = set()


def concrete(path: str) -> str:
    """A path template with every parameter filled in (the IDs are UUIDs)."""
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["type"]


def chassis_only(service: Service) -> Service:
    return dataclasses.replace(service, domains=tuple)


# --- SEC-3: deny by default ---------------------------------------------------------------------


async def test_sec3_every_route_declares_its_access_and_only_the_chassis_is_public(
    app: FastAPI, service: Service
) -> None:
    access = route_access(app)
    assert sorted(route for route, declared in access.items() if declared is None) == []
    public = {route for route, declared in access.items() if declared == "public"}
    chassis = chassis_only(service).create_app(chassis_of(app).settings)
    chassis_public = {
        route for route, declared in route_access(chassis).items() if declared == "public"
    }
    assert public - chassis_public == OWN_PUBLIC_ROUTES


async def test_sec3_every_protected_route_refuses_an_anonymous_caller(
    app: FastAPI, anonymous_client: httpx.AsyncClient
) -> None:
    protected = sorted(
        route for route, declared in route_access(app).items() if declared == "authenticated"
    )
    assert ("GET", "/v1/items") in protected
    for method, path in protected:
        response = await anonymous_client.request(method, concrete(path))
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer"), (method, path)


async def test_sec3_a_token_without_the_routes_scope_is_forbidden(
    app: FastAPI, tokens: TokenFactory
) -> None:
    async with asgi_client(app, headers=tokens.headers("categories:read")) as http:
        assert (await http.get("/v1/categories")).status_code == 200
        assert_problem(await http.get("/v1/items"), 403)
        assert_problem(await http.post("/v1/categories", json={"name": "Tools"}), 403)


# --- OBS-4: problem details for every error -----------------------------------------------------


async def test_obs4_errors_are_problem_details(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/v1/no-such-resource"), 404)
    assert_problem(await client.put("/v1/items"), 405)
    assert_problem(await client.get("/v1/items/not-a-uuid"), 422)
    assert_problem(
        await client.post(
            "/v1/items", content=b"{not json", headers={"content-type": "application/json"}
        ),
        422,
    )
    missing = await client.get(f"/v1/items/{uuid.uuid4()}")
    assert_problem(missing, 404)
    assert missing.json()["type"] == "urn:problem-type:item-not-found"


# --- SEC-5: security headers --------------------------------------------------------------------


async def test_sec5_the_services_answers_carry_the_security_headers(
    client: httpx.AsyncClient,
) -> None:
    for response in (await client.get("/v1/items"), await client.get("/v1/items/not-a-uuid")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")


# --- INF-2: health ------------------------------------------------------------------------------


async def test_inf2_liveness_and_readiness_answer(anonymous_client: httpx.AsyncClient) -> None:
    live = await anonymous_client.get("/health/live")
    assert live.status_code == 200
    ready = await anonymous_client.get("/health/ready")
    assert ready.status_code == 200, ready.text
    report = ready.json()
    assert report["status"] == "ok"
    assert report["checks"]["database"]["status"] == "ok"


# --- OBS-1: metrics -----------------------------------------------------------------------------


def sample_value(text: str, name: str, **labels: str) -> float | None:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None


async def test_obs1_metrics_need_their_scope_and_count_the_services_requests(
    app: FastAPI, client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    assert (await client.get("/v1/items")).status_code == 200
    assert (await client.get(f"/v1/items/{uuid.uuid4()}")).status_code == 404
    async with asgi_client(app) as anonymous:
        assert_problem(await anonymous.get("/metrics"), 401)
    async with asgi_client(app, headers=tokens.headers("items:read")) as reader:
        assert_problem(await reader.get("/metrics"), 403)
    async with asgi_client(app, headers=tokens.headers(METRICS_SCOPE)) as prometheus:
        scrape = await prometheus.get("/metrics")
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    count = "http_server_request_duration_seconds_count"
    listed = {"http_request_method": "GET", "http_route": "/v1/items"}
    one = {"http_request_method": "GET", "http_route": "/v1/items/{item_id}"}
    assert sample_value(scrape.text, count, http_response_status_code="200", **listed) == 1
    assert sample_value(scrape.text, count, http_response_status_code="404", **one) == 1


# --- OBS-2: traces ------------------------------------------------------------------------------

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


@pytest.fixture
def receiver() -> Iterator[OtlpReceiver]:
    with otlp_receiver() as running:
        yield running


async def test_obs2_spans_reach_an_otlp_receiver_and_continue_the_callers_trace(
    service: Service,
    database_url: str,
    auth_settings: dict[str, str],
    auth_headers: dict[str, str],
    receiver: OtlpReceiver,
) -> None:
    settings = service.load_settings(
        app_env="test",
        database_url=database_url,
        otel_exporter_otlp_endpoint=receiver.endpoint,
        **auth_settings,
    )
    app = service.create_app(settings)
    traceparent = f"00-{TRACE_ID}-{PARENT_ID}-01"
    async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
        response = await client.post(
            "/v1/items", json={"name": "Traced"}, headers={"traceparent": traceparent}
        )
        assert response.status_code == 201, response.text
        await delete_all_rows(service, chassis_of(app).resources.database.engine)
    # The lifespan has ended: the provider flushed every span it held.
    server = receiver.wait_for(lambda span: span.kind == SPAN_KIND_SERVER)
    assert server.name == "POST /v1/items"
    assert (server.trace_id, server.parent_span_id) == (TRACE_ID, PARENT_ID)
    assert server.resource["service.name"] == service.name
    assert server.resource["service.version"] == service.version
    # The item's INSERT is a span of the same trace, under the request.
    query = receiver.wait_for(
        lambda span: span.kind == SPAN_KIND_CLIENT and span.name.startswith("INSERT")
    )
    assert query.trace_id == TRACE_ID


# --- OBS-3: request IDs -------------------------------------------------------------------------


async def test_obs3_request_ids_are_echoed_and_on_every_log_line(
    client: httpx.AsyncClient,
) -> None:
    with capture_logs(processors=[merge_contextvars]) as logs:
        kept = await client.get("/v1/items", headers={"X-Request-ID": "caller-1234.abcd"})
        made = await client.get(f"/v1/items/{uuid.uuid4()}")
    assert kept.headers["x-request-id"] == "caller-1234.abcd"
    assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"])
    access = {line["url_path"]: line for line in logs if line["event"] == "request"}
    assert access["/v1/items"]["request_id"] == "caller-1234.abcd"
    assert access["/v1/items"]["http_route"] == "/v1/items"
    assert access[made.url.path]["request_id"] == made.headers["x-request-id"]
    assert access[made.url.path]["status"] == 404
