"""OBS-1: Prometheus metrics at /metrics, named and labelled by the OpenTelemetry conventions."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from sqlalchemy import delete
from structlog.testing import capture_logs

from goldenpath_chassis import chassis_of
from goldenpath_chassis._core import queue
from goldenpath_chassis._core.queue import Job
from goldenpath_chassis.testing.auth import TokenFactory

pytestmark = pytest.mark.integration


async def scrape(client: httpx.AsyncClient) -> list[Sample]:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return [
        sample
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    ]


def value(samples: list[Sample], name: str, **labels: str) -> float | None:
    for sample in samples:
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
            return sample.value
    return None


async def test_obs1_request_duration_is_labelled_by_route_template(
    client: httpx.AsyncClient,
) -> None:
    missing = uuid.uuid4()
    assert (await client.get(f"/v1/widgets/{missing}")).status_code == 404
    assert (await client.get(f"/v1/widgets/{uuid.uuid4()}")).status_code == 404
    assert (await client.get("/v1/widgets/not-a-uuid")).status_code == 422
    samples = await scrape(client)

    count = "http_server_request_duration_seconds_count"
    route = "/v1/widgets/{widget_id}"
    labels = {"http_request_method": "GET", "http_route": route}
    assert value(samples, count, http_response_status_code="404", **labels) == 2
    assert value(samples, count, http_response_status_code="422", **labels) == 1
    bucket = "http_server_request_duration_seconds_bucket"
    assert value(samples, bucket, le="10.0", http_response_status_code="404", **labels) == 2
    # Never the raw path: one series per route, whatever the IDs.
    assert not any(str(missing) in str(sample.labels) for sample in samples)


async def test_obs1_unmatched_paths_share_one_series(client: httpx.AsyncClient) -> None:
    for path in ("/nothing", "/v1/nothing/else", "/wp-admin.php"):
        assert (await client.get(path)).status_code == 404
    samples = await scrape(client)
    count = "http_server_request_duration_seconds_count"
    assert value(samples, count, http_route="", http_response_status_code="404") == 3


async def test_obs1_unknown_methods_are_bucketed_as_other(client: httpx.AsyncClient) -> None:
    await client.request("BREW", "/health/live")
    samples = await scrape(client)
    count = "http_server_request_duration_seconds_count"
    assert value(samples, count, http_request_method="_OTHER") == 1
    assert value(samples, count, http_request_method="BREW") is None


async def test_obs1_build_info_and_process_metrics(client: httpx.AsyncClient) -> None:
    samples = await scrape(client)
    assert value(samples, "service_build_info", service_version="1.2.3") == 1
    assert value(samples, "process_resident_memory_bytes") is not None


async def test_obs1_resilience_cache_and_rate_limit_metrics_are_exported(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    chassis = chassis_of(app)
    chassis.instruments.metrics.rate_limit_rejected(limiter="ip")
    chassis.instruments.metrics.rate_limit_rejected(limiter="ip")
    chassis.instruments.breakers.declare("example")
    resource = chassis.resources.cache.resource("example:v1", _StrCodec())
    for _ in range(3):
        await resource.get_or_load("key", _load_value)
    samples = await scrape(client)
    assert value(samples, "rate_limit_rejections_total", limiter="ip") == 2
    assert value(samples, "circuit_breaker_state", dependency="example", state="closed") == 1
    assert value(samples, "circuit_breaker_state", dependency="example", state="open") == 0
    assert value(samples, "cache_misses_total", cache="example") == 1
    assert value(samples, "cache_hits_total", cache="example") == 2


async def test_obs1_database_pool_statements_and_queue_depth(client: httpx.AsyncClient) -> None:
    before = value(await scrape(client), "job_queue_depth", state="queued")
    assert before == 0
    created = await client.post("/v1/widgets", json={"name": "Measured"})
    assert created.status_code == 201  # enqueues the widget's publish job
    samples = await scrape(client)
    assert value(samples, "job_queue_depth", state="queued") == 1  # read at scrape time
    assert value(samples, "db_client_operation_duration_seconds_count", db_operation_name="INSERT")
    assert value(samples, "db_client_operation_duration_seconds_count", db_operation_name="SELECT")
    assert value(samples, "db_client_connection_max") is not None
    used = value(samples, "db_client_connection_count", db_client_connection_state="used")
    idle = value(samples, "db_client_connection_count", db_client_connection_state="idle")
    assert used is not None
    assert idle is not None
    assert used + idle >= 1


async def test_obs1_the_oldest_due_job_s_wait_is_exported(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """A stalled queue (no worker claiming) shows as the wait of its oldest due job; a job in
    its retry backoff is not due, and a running job is due again once its lease has run out."""
    oldest = "job_queue_oldest_due_age_seconds"
    assert value(await scrape(client), oldest) == 0
    now = datetime.now(UTC)
    async with chassis_of(app).resources.database.sessionmaker() as session:
        backing_off = queue.enqueue(session, "backing_off", {})
        backing_off.run_after = now + timedelta(minutes=10)
        await session.commit()
        assert value(await scrape(client), oldest) == 0
        waiting = queue.enqueue(session, "waiting", {})
        waiting.run_after = now - timedelta(seconds=120)
        await session.commit()
        assert 120 <= (value(await scrape(client), oldest) or 0) < 180
        abandoned = queue.enqueue(session, "abandoned", {})
        abandoned.status, abandoned.attempts = queue.RUNNING, 1
        abandoned.locked_until = now - timedelta(seconds=600)
        await session.commit()
        assert 600 <= (value(await scrape(client), oldest) or 0) < 660
        await session.execute(delete(Job).where(Job.kind != "backing_off"))
        await session.commit()
    assert value(await scrape(client), oldest) == 0


async def test_obs1_openmetrics_and_gzip_are_negotiated(client: httpx.AsyncClient) -> None:
    response = await client.get(
        "/metrics",
        headers={
            "Accept": "application/openmetrics-text; version=1.0.0",
            "Accept-Encoding": "gzip",
        },
    )
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    assert response.headers["content-encoding"] == "gzip"
    assert "http_server_active_requests" in response.text  # httpx decoded the gzip body


async def test_obs1_sec3_metrics_need_the_metrics_scope(
    anonymous_client: httpx.AsyncClient, tokens: TokenFactory
) -> None:
    assert (await anonymous_client.get("/metrics")).status_code == 401
    without_scope = await anonymous_client.get("/metrics", headers=tokens.headers("widgets:read"))
    assert without_scope.status_code == 403
    scraper = await anonymous_client.get("/metrics", headers=tokens.headers("metrics:read"))
    assert scraper.status_code == 200
    assert "http_server_request_duration_seconds" in scraper.text


async def test_obs1_metrics_stay_out_of_the_api_document(app: FastAPI) -> None:
    assert "/metrics" not in app.openapi()["paths"]


class _StrCodec:
    def encode(self, value: str) -> bytes:
        return value.encode()

    def decode(self, data: bytes) -> str:
        return data.decode()


async def _load_value() -> str:
    return "value"


async def test_obs1_a_failing_refresher_leaves_its_value_and_logs_no_credential(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A refresher's error is logged (and the scrape still answers), with any URL in its
    message redacted: an HTTP client's error names the URL it called, query string and all."""
    secret = "rt-5c1e9a"

    async def failing_refresher() -> None:
        raise RuntimeError(f"GET https://queue.example/depth?refresh_token={secret} failed")

    metrics = chassis_of(app).instruments.metrics
    metrics.add_refresher(failing_refresher)
    try:
        with capture_logs() as logs:
            samples = await scrape(client)
    finally:
        metrics.remove_refresher(failing_refresher)
    assert value(samples, "job_queue_depth", state="queued") is not None
    failures = [line for line in logs if line["event"] == "metrics_refresh_failed"]
    assert len(failures) == 1, logs
    assert "refresh_token=REDACTED" in failures[0]["error"]
    assert secret not in str(logs)
