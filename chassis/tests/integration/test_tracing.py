"""OBS-2/OBS-3: spans leave the process over OTLP/HTTP; logs carry the trace and span IDs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.contextvars import merge_contextvars
from structlog.testing import capture_logs

from goldenpath_chassis import ChassisSettings, ConfigurationError, Service, chassis_of
from goldenpath_chassis._core import otlp
from goldenpath_chassis._core.resources import open_resources
from goldenpath_chassis._core.span_encoding import EndedSpan, otlp_request
from goldenpath_chassis._core.span_resource import HashedOnceResource
from goldenpath_chassis._core.tracing import add_trace_ids
from goldenpath_chassis._core.worker import Worker
from goldenpath_chassis.jobs import enqueue
from goldenpath_chassis.testing.asgi import asgi_client
from goldenpath_chassis.testing.databases import delete_all_rows
from goldenpath_chassis.testing.loopback_http import loopback_http_server
from goldenpath_chassis.testing.otlp import (
    SPAN_KIND_CLIENT,
    SPAN_KIND_CONSUMER,
    SPAN_KIND_SERVER,
    STATUS_CODE_ERROR,
    OtlpReceiver,
)

from tests.support.not_found import ACCESS_TOKEN, NotFound, url_with_token

pytestmark = pytest.mark.integration

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture
async def traced_app(service: Service, traced_settings: ChassisSettings) -> AsyncIterator[FastAPI]:
    application = service.create_app(traced_settings)
    async with LifespanManager(application):
        yield application


async def test_obs2_request_spans_reach_an_otlp_receiver_on_the_wire(
    service: Service,
    traced_settings: ChassisSettings,
    receiver: OtlpReceiver,
    auth_headers: dict[str, str],
) -> None:
    app = service.create_app(traced_settings)
    async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
        response = await client.get("/v1/widgets/not-a-uuid", headers={"traceparent": TRACEPARENT})
        assert response.status_code == 422
    # The lifespan has ended: the provider was shut down and flushed what it buffered.
    span = receiver.wait_for(lambda s: s.kind == SPAN_KIND_SERVER)
    assert span.name == "GET /v1/widgets/{widget_id}"
    assert span.attributes["http.route"] == "/v1/widgets/{widget_id}"
    assert span.attributes["http.response.status_code"] == 422
    # W3C trace context in: the span continues the caller's trace.
    assert span.trace_id == TRACE_ID
    assert span.parent_span_id == PARENT_ID
    assert span.resource["service.name"] == "traced-service"
    assert span.resource["service.version"] == "1.2.3"


async def test_obs2_spans_encoded_where_they_end_reach_the_receiver_the_same(
    service: Service,
    traced_settings: ChassisSettings,
    receiver: OtlpReceiver,
    auth_headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The first export loads the encoder; from then on each span is encoded by the thread that
    # ends it, and the exporter frames the bytes (span_encoding.py).
    encoded_on_arrival: list[bool] = []

    def watched(spans: Sequence[EndedSpan], *encoders: Any) -> bytes:
        encoded_on_arrival.extend(span.encoded is not None for span in spans)
        return otlp_request(spans, *encoders)

    monkeypatch.setattr(otlp, "otlp_request", watched)
    app = service.create_app(traced_settings)
    tracing = chassis_of(app).instruments.tracing
    async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
        assert tracing.span_export is not None
        assert not tracing.span_export.encoding
        await client.get("/v1/widgets/not-a-uuid")
        assert tracing.span_export.force_flush()
        assert tracing.span_export.encoding
        encoded_on_arrival.clear()
        for number in range(12):
            traceparent = f"00-{TRACE_ID[:-2]}{number:02x}-{PARENT_ID}-01"
            response = await client.get(
                "/v1/widgets/not-a-uuid", headers={"traceparent": traceparent}
            )
            assert response.status_code == 422
        assert tracing.span_export.force_flush()
    assert encoded_on_arrival == [True] * 12
    received = [s for s in receiver.received() if s.parent_span_id == PARENT_ID]
    assert sorted(s.trace_id for s in received) == [
        f"{TRACE_ID[:-2]}{number:02x}" for number in range(12)
    ]
    for span in received:
        assert span.name == "GET /v1/widgets/{widget_id}"
        assert span.attributes == {
            "http.request.method": "GET",
            "url.path": "/v1/widgets/not-a-uuid",
            "url.scheme": "http",
            "http.route": "/v1/widgets/{widget_id}",
            "http.response.status_code": 422,
        }
        assert span.resource["service.name"] == "traced-service"
        assert span.scope == "goldenpath_chassis._core.tracing"


async def test_obs2_spans_are_flushed_on_shutdown_not_before(
    service: Service,
    traced_settings: ChassisSettings,
    receiver: OtlpReceiver,
    monkeypatch: pytest.MonkeyPatch,
    auth_headers: dict[str, str],
) -> None:
    # The batch processor would otherwise export after 5 s; make it wait far longer.
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "600000")
    app = service.create_app(traced_settings)
    async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
        await client.get("/v1/widgets")
        await client.get("/v1/widgets")
        assert receiver.received() == []
    server_spans = [s for s in receiver.received() if s.kind == SPAN_KIND_SERVER]
    assert [s.name for s in server_spans] == ["GET /v1/widgets", "GET /v1/widgets"]


async def test_obs2_probes_and_scrapes_are_not_traced(
    service: Service,
    traced_settings: ChassisSettings,
    receiver: OtlpReceiver,
    auth_headers: dict[str, str],
) -> None:
    app = service.create_app(traced_settings)
    async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
        await client.get("/health/live")
        await client.get("/metrics")
        await client.get("/v1/widgets")
    receiver.wait_for(lambda s: s.name == "GET /v1/widgets")
    assert not [s for s in receiver.received() if "/health" in s.name or "/metrics" in s.name]


async def test_obs2_readiness_checks_make_no_spans(
    service: Service,
    traced_overrides: dict[str, str],
    receiver: OtlpReceiver,
    auth_headers: dict[str, str],
    redis_url: str,
) -> None:
    app = service.create_app(service.load_settings(**traced_overrides, redis_url=redis_url))
    async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
        for _ in range(3):
            assert (await client.get("/health/ready")).json()["checks"]["redis"]["status"] == "ok"
        await client.get("/v1/widgets")  # its spans come after any the probes would have made
    receiver.wait_for(lambda s: s.name == "GET /v1/widgets")
    probe_spans = [
        s
        for s in receiver.received()
        if s.name == "PING"
        or s.attributes.get("db.statement", s.attributes.get("db.query.text")) == "SELECT 1"
    ]
    assert not probe_spans, [s.name for s in probe_spans]


class _RecordingHandler(BaseHTTPRequestHandler):
    """A downstream service that answers 200 and keeps the headers of what it received."""

    received: list[dict[str, str]]

    def do_GET(self) -> None:
        self.received.append(dict(self.headers.items()))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


async def test_obs2_outbound_http_is_a_child_span_and_carries_traceparent(
    service: Service, traced_settings: ChassisSettings, receiver: OtlpReceiver
) -> None:
    app = service.create_app(traced_settings)
    received: list[dict[str, str]] = []
    handler = type("Downstream", (_RecordingHandler,), {"received": received})
    with loopback_http_server(handler) as downstream:
        host, port = downstream.server_address[:2]
        async with LifespanManager(app):
            chassis = chassis_of(app)
            tracer = chassis.instruments.tracing.tracer("test")
            with tracer.start_as_current_span("job"):
                response = await chassis.resources.http.request(
                    "GET", f"http://{host!s}:{port}/hook", dependency="downstream"
                )
            assert response.status_code == 200
    assert len(received) == 1
    sent = {name.lower(): value for name, value in received[0].items()}
    client_span = receiver.wait_for(lambda s: s.kind == SPAN_KIND_CLIENT)
    job_span = receiver.wait_for(lambda s: s.name == "job")
    assert client_span.trace_id == job_span.trace_id
    assert client_span.parent_span_id == job_span.span_id
    # W3C trace context out: the downstream service continues our trace.
    assert sent["traceparent"].split("-")[1] == client_span.trace_id


# Query parameters that carry credentials, each with a value no span or log line may hold.
CREDENTIALS = {
    "access_token": "at-4f9c2e17",
    "API_KEY": "ak-81d0b7c3",
    "client_secret": "cs-5a6e1309",
    "Password": "pw-c03f88d2",
    "code": "oc-77b1aa64",  # an OAuth authorization code
    "session": "ss-e1f0a3b5",
    "X-Amz-Signature": "as-2d4e9012",  # the semantic conventions' own list
    "sig": "sg-19ce42f0",
    "acc%65ss%5Ftoken": "pe-0b93c7aa",  # access_token, percent-encoded
}


async def test_obs2_credentials_in_a_query_string_never_reach_the_span_or_the_log(
    service: Service,
    traced_settings: ChassisSettings,
    receiver: OtlpReceiver,
    auth_headers: dict[str, str],
) -> None:
    query = "limit=5&" + "&".join(f"{name}={value}" for name, value in CREDENTIALS.items())
    app = service.create_app(traced_settings)
    async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
        with capture_logs(processors=[merge_contextvars]) as logs:
            response = await client.get(f"/v1/widgets?{query}&cursor=&flag")
        assert response.status_code == 200
    span = receiver.wait_for(lambda s: s.name == "GET /v1/widgets")
    # Each credential's name stays and its value goes; the rest is kept as it was sent.
    redacted = "&".join(f"{name}=REDACTED" for name in CREDENTIALS)
    assert span.attributes["url.query"] == f"limit=5&{redacted}&cursor=&flag"
    for value in CREDENTIALS.values():
        assert value not in repr(span.attributes)
        assert value not in repr(logs)


class _PathRecordingHandler(BaseHTTPRequestHandler):
    """A downstream service that answers 200 and keeps the paths it was asked for."""

    paths: list[str]

    def do_GET(self) -> None:
        self.paths.append(self.path)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


async def test_obs2_credentials_in_an_outbound_url_never_reach_its_span(
    service: Service, traced_settings: ChassisSettings, receiver: OtlpReceiver
) -> None:
    app = service.create_app(traced_settings)
    paths: list[str] = []
    handler = type("Downstream", (_PathRecordingHandler,), {"paths": paths})
    query = "page=2&" + "&".join(f"{name}={value}" for name, value in CREDENTIALS.items())
    with loopback_http_server(handler) as downstream:
        host, port = downstream.server_address[:2]
        async with LifespanManager(app):
            http = chassis_of(app).resources.http
            # A webhook-style URL: credentials in the user information, the query and the
            # fragment.
            url = f"http://hook:pw-9e8d7c6b@{host!s}:{port}/hook?{query}#access_token=fr-5c1d9e02"
            response = await http.request("GET", url, dependency="downstream")
            assert response.status_code == 200
    # The request itself is sent as it was given: only the span is redacted.
    assert paths == [f"/hook?{query}"]
    span = receiver.wait_for(lambda s: s.kind == SPAN_KIND_CLIENT)
    recorded = str(span.attributes.get("url.full", span.attributes.get("http.url")))
    redacted = "&".join(f"{name}=REDACTED" for name in CREDENTIALS)
    assert recorded == (
        f"http://REDACTED:REDACTED@{host!s}:{port}/hook?page=2&{redacted}#access_token=REDACTED"
    )
    for value in (*CREDENTIALS.values(), "pw-9e8d7c6b", "fr-5c1d9e02"):
        assert value not in repr(span.attributes)


async def test_obs2_an_exception_a_span_records_keeps_no_credential_of_a_url_it_names(
    service: Service, traced_settings: ChassisSettings, receiver: OtlpReceiver
) -> None:
    app = service.create_app(traced_settings)
    with loopback_http_server(NotFound) as downstream:
        url, redacted = url_with_token(downstream)
        async with LifespanManager(app):
            chassis = chassis_of(app)
            tracing = chassis.instruments.tracing
            tracer = tracing.tracer("test")

            async def sync() -> None:
                # The span records the error escaping it: an event with its message and stack
                # trace, and an error status that repeats the message.
                with tracer.start_as_current_span("sync"):
                    response = await chassis.resources.http.request("GET", url, dependency="x")
                    response.raise_for_status()

            export = tracing.span_export
            assert export is not None
            # Twice: the first span is encoded by the exporter's thread, the second where it
            # ends, once the first export has loaded the encoder (span_encoding.py).
            for _ in range(2):
                with pytest.raises(httpx.HTTPStatusError):
                    await sync()
                assert export.force_flush()
            assert export.encoding
    spans = [span for span in receiver.received() if span.name == "sync"]
    assert len(spans) == 2
    for span in spans:
        (event,) = span.events
        assert event.name == "exception"
        assert event.attributes["exception.type"] == "httpx.HTTPStatusError"
        assert f"for url '{redacted}'" in event.attributes["exception.message"]
        assert f"for url '{redacted}'" in event.attributes["exception.stacktrace"]
        assert f"for url '{redacted}'" in span.status_message
    for exported in receiver.received():  # the outbound calls' spans too
        assert ACCESS_TOKEN not in repr(exported)


async def test_obs2_jobs_and_sql_continue_the_trace_of_the_request_that_enqueued_them(
    service: Service,
    traced_settings: ChassisSettings,
    receiver: OtlpReceiver,
    auth_headers: dict[str, str],
) -> None:
    app = service.create_app(traced_settings)
    async with asgi_client(app, headers=auth_headers, lifespan=True) as client:
        created = await client.post(
            "/v1/widgets", json={"name": "Traced"}, headers={"traceparent": TRACEPARENT}
        )
        assert created.status_code == 201
        chassis = chassis_of(app)
        database = chassis.resources.database
        worker = Worker(database, service.jobs, tracer=chassis.instruments.tracing.tracer("w"))
        assert await worker.run_once() == 1
        await delete_all_rows(service, database.engine)
    job = receiver.wait_for(lambda s: s.kind == SPAN_KIND_CONSUMER)
    assert job.name == "process widgets.publish"
    assert job.trace_id == TRACE_ID  # the worker's span joins the request's trace
    sql = [
        s
        for s in receiver.received()
        if "db.statement" in s.attributes or "db.query.text" in s.attributes
    ]
    assert any(s.parent_span_id == job.span_id for s in sql)  # the job's UPDATE, as a child
    request = receiver.wait_for(lambda s: s.kind == SPAN_KIND_SERVER)
    assert any(s.parent_span_id == request.span_id and s.trace_id == TRACE_ID for s in sql)


_DOWNSTREAM = "http://127.0.0.1:9/v1/things?access_token="


class _FailingHandlerError(RuntimeError):
    pass


async def _fail(session: AsyncSession, payload: dict[str, Any]) -> None:
    raise _FailingHandlerError(f"could not reach {_DOWNSTREAM}{ACCESS_TOKEN}")


async def test_obs2_a_failed_jobs_span_is_an_error_with_its_exception(
    service: Service, traced_settings: ChassisSettings, receiver: OtlpReceiver
) -> None:
    """The worker handles a handler's exception inside the job's span (it records the failure
    and retries later): the span still says the job failed, and why, without a credential."""
    app = service.create_app(traced_settings)
    async with LifespanManager(app):
        chassis = chassis_of(app)
        database = chassis.resources.database
        async with database.sessionmaker() as session:
            enqueue(session, "fails", {})
            await session.commit()
        tracer = chassis.instruments.tracing.tracer("w")
        worker = Worker(database, {"fails": _fail}, tracer=tracer)
        assert await worker.run_once() == 1
        await delete_all_rows(service, database.engine)
    job = receiver.wait_for(lambda s: s.kind == SPAN_KIND_CONSUMER)
    assert job.name == "process fails"
    assert job.status_code == STATUS_CODE_ERROR
    assert job.attributes["error.type"] == "_FailingHandlerError"
    (event,) = job.events
    assert event.name == "exception"
    assert event.attributes["exception.message"] == f"could not reach {_DOWNSTREAM}REDACTED"
    assert ACCESS_TOKEN not in repr(job)


async def test_obs2_redis_commands_are_spans(
    service: Service, receiver: OtlpReceiver, traced_overrides: dict[str, str], redis_url: str
) -> None:
    app = service.create_app(service.load_settings(**traced_overrides, redis_url=redis_url))
    async with LifespanManager(app):
        redis = chassis_of(app).resources.redis
        assert redis is not None
        await redis.ping()
    span = receiver.wait_for(lambda s: s.name == "PING")
    assert span.kind == SPAN_KIND_CLIENT
    assert span.attributes.get("db.system.name", span.attributes.get("db.system")) == "redis"


async def test_obs3_log_lines_in_a_request_carry_request_trace_and_span_ids(
    traced_app: FastAPI, receiver: OtlpReceiver, auth_headers: dict[str, str]
) -> None:
    async with asgi_client(traced_app, headers=auth_headers) as client:
        with capture_logs(processors=[merge_contextvars, add_trace_ids]) as logs:
            response = await client.get("/v1/widgets", headers={"traceparent": TRACEPARENT})
    access = next(line for line in logs if line["event"] == "request")
    assert access["request_id"] == response.headers["x-request-id"]
    assert access["trace_id"] == TRACE_ID
    assert len(access["span_id"]) == 16
    assert access["span_id"] != PARENT_ID  # our server span, not the caller's


async def test_obs2_without_an_endpoint_there_is_no_provider_and_no_ids(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    assert chassis_of(app).instruments.tracing.provider is None
    with capture_logs(processors=[merge_contextvars, add_trace_ids]) as logs:
        await client.get("/v1/widgets", headers={"traceparent": TRACEPARENT})
    access = next(line for line in logs if line["event"] == "request")
    assert "trace_id" not in access
    assert "request_id" in access


def test_obs2_only_otlp_over_http_is_accepted(service: Service) -> None:
    with pytest.raises(ConfigurationError, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        service.load_settings(otel_exporter_otlp_protocol="grpc")
    settings = service.load_settings(otel_exporter_otlp_endpoint="http://collector:4318/")
    assert settings.telemetry.traces_endpoint == "http://collector:4318/v1/traces"
    disabled = service.load_settings(
        otel_exporter_otlp_endpoint="http://collector:4318", otel_sdk_disabled=True
    )
    assert disabled.telemetry.traces_endpoint is None


@pytest.mark.parametrize(
    ("overrides", "bounded_by", "export_seconds"),
    [
        ({}, None, None),
        ({"otel_bsp_export_timeout": "2000"}, "OTEL_EXPORTER_OTLP_TIMEOUT", 4.0),
        (
            {"otel_bsp_export_timeout": "2000", "otel_exporter_otlp_traces_timeout": "3"},
            "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
            3.0,
        ),
    ],
)
async def test_obs2_otel_bsp_export_timeout_is_said_ignored_with_what_bounds_an_export(
    service: Service,
    traced_overrides: dict[str, str],
    overrides: dict[str, str],
    bounded_by: str | None,
    export_seconds: float | None,
) -> None:
    settings = service.load_settings(
        **traced_overrides,
        otel_exporter_otlp_timeout="4",
        shutdown_trace_flush_seconds="2",
        **overrides,
    )
    # What the API's lifespan and the worker both open, tracing's exporter first.
    with capture_logs() as logs:
        async with open_resources(settings, service_version="1.2.3"):
            pass
    notes = [line for line in logs if line["event"] == "otel_bsp_export_timeout_ignored"]
    if bounded_by is None:
        assert notes == []
        return
    (note,) = notes
    assert note == {
        "event": "otel_bsp_export_timeout_ignored",
        "log_level": "warning",
        "reason": "the OpenTelemetry SDK does not apply it",
        "export_bounded_by": bounded_by,
        "export_timeout_seconds": export_seconds,
        "final_flush_bounded_by": "SHUTDOWN_TRACE_FLUSH_SECONDS",
        "flush_seconds": 2.0,
    }


def test_obs2_the_providers_resource_is_hashed_once(
    service: Service, traced_settings: ChassisSettings
) -> None:
    # The exporter hashes the resource for every span it encodes (span_resource.py).
    provider = chassis_of(service.create_app(traced_settings)).instruments.tracing.provider
    assert provider is not None
    assert isinstance(provider.resource, HashedOnceResource)
    assert provider.resource.attributes["service.name"] == "traced-service"
