"""OBS-1/OBS-2/OBS-3 with the service as a real process, configured by OTEL_* variables only."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from goldenpath_chassis.testing.live import ServiceCredentials
from goldenpath_chassis.testing.loopback_http import loopback_http_server
from goldenpath_chassis.testing.otlp import SPAN_KIND_CLIENT, SPAN_KIND_SERVER, otlp_receiver

from tests.support.example_process import FIRST_START_SECONDS, running_example
from tests.support.not_found import ACCESS_TOKEN, NotFound, url_with_token

pytestmark = pytest.mark.process

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
QUERY_TOKEN = "qt-3e71c0d95a"


def test_obs2_otel_variables_alone_turn_export_on_and_shutdown_flushes(
    tmp_path: Path, service_credentials: ServiceCredentials
) -> None:
    headers = dict(service_credentials.headers)
    with otlp_receiver() as receiver:
        env = {
            **service_credentials.env,
            "APP_ENV": "development",  # the embedded database, in the test's folder
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_SERVICE_NAME": "orders-under-test",
            # Nothing is exported on a timer in this test: only the shutdown flush can send it.
            "OTEL_BSP_SCHEDULE_DELAY": "600000",
        }
        log = tmp_path / "out.log"
        with running_example(env, log_path=log, timeout=FIRST_START_SECONDS) as service:
            response = httpx.get(
                service.base_url + f"/v1/widgets?limit=5&access_token={QUERY_TOKEN}",
                headers={"traceparent": TRACEPARENT, **headers},
            )
            assert response.status_code == 200
            scrape = httpx.get(service.base_url + "/metrics", headers=headers).text
            assert receiver.received() == []
        assert service.process.returncode == 0, service.output()
        span = receiver.wait_for(lambda s: s.kind == SPAN_KIND_SERVER, timeout=5)

    assert span.name == "GET /v1/widgets"
    assert span.trace_id == TRACE_ID
    assert span.resource["service.name"] == "orders-under-test"
    # A credential sent in the query string reaches neither the span nor any log line.
    assert span.attributes["url.query"] == "limit=5&access_token=REDACTED"
    assert QUERY_TOKEN not in service.output()
    assert 'http_route="/v1/widgets"' in scrape
    lines = [json.loads(line) for line in service.output().splitlines() if line.startswith("{")]
    access = next(line for line in lines if line.get("event") == "request")
    assert access["trace_id"] == TRACE_ID
    assert access["span_id"] == span.span_id
    assert access["request_id"] == response.headers["x-request-id"]


def test_obs3_a_credential_in_an_errors_url_reaches_neither_the_log_nor_a_span(
    tmp_path: Path, service_credentials: ServiceCredentials
) -> None:
    with otlp_receiver() as receiver, loopback_http_server(NotFound) as downstream:
        url, redacted = url_with_token(downstream)
        env = {
            **service_credentials.env,
            "APP_ENV": "development",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "EXAMPLE_DOWNSTREAM_URL": url,
        }
        log = tmp_path / "out.log"
        with running_example(env, log_path=log, timeout=FIRST_START_SECONDS) as service:
            # The route calls the downstream service, which answers 404, and lets httpx's
            # HTTPStatusError (whose message holds the URL) escape: logged, and answered 500.
            response = httpx.get(
                service.base_url + "/v1/test/fail/downstream",
                headers=dict(service_credentials.headers),
            )
        assert service.process.returncode == 0, service.output()
        receiver.wait_for(lambda s: s.kind == SPAN_KIND_SERVER, timeout=5)
        client = receiver.wait_for(lambda s: s.kind == SPAN_KIND_CLIENT, timeout=5)

    assert response.status_code == 500
    output = service.output()
    assert ACCESS_TOKEN not in output
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    (unhandled,) = [line for line in lines if line.get("event") == "unhandled_error"]
    # The traceback is logged as it was raised, with the URL's credential redacted.
    (error,) = unhandled["exception"]
    assert error["exc_type"] == "HTTPStatusError"
    assert error["exc_value"].startswith(f"Client error '404 Not Found' for url '{redacted}'\n")
    assert any(frame["name"] == "fail_downstream" for frame in error["frames"])
    assert ACCESS_TOKEN not in repr(receiver.received())
    assert client.attributes.get("url.full", client.attributes.get("http.url")) == redacted
