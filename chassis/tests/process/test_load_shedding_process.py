"""INF-1 with the service as a real process: past MAX_CONCURRENT_REQUESTS in flight, a request is
refused at once with a 503 problem and `Retry-After`, while the probes and the metrics scrape
still answer; once the held requests end, requests are accepted again.

The limit is 2, filled by requests held in a route of the example (tests/example/held.py) that
connects back to the test's listener: each is in its handler when the test accepts its
connection, and ends when the test closes it. No timing is involved.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from goldenpath_chassis.testing.live import ServiceCredentials
from goldenpath_chassis.testing.processes import ServiceProcess

from tests.support.example_process import running_example

pytestmark = pytest.mark.process

LIMIT = 2
ORIGIN = "https://app.example.com"
# Only a bound on a failure: nothing here waits for time to pass.
BOUND_SECONDS = 30.0


@pytest.fixture
def capped(service_env: dict[str, str], tmp_path: Path) -> Iterator[ServiceProcess]:
    env = service_env | {"MAX_CONCURRENT_REQUESTS": str(LIMIT), "CORS_ALLOW_ORIGINS": ORIGIN}
    with running_example(env, log_path=tmp_path / "service.log") as process:
        yield process


@contextmanager
def requests_held(service: ServiceProcess, count: int) -> Iterator[list[Future[httpx.Response]]]:
    """`count` requests in their handlers until the block ends; then their answers, awaited."""
    with (
        socket.create_server(("127.0.0.1", 0)) as gate,
        ThreadPoolExecutor(count) as pool,
    ):
        gate.settimeout(BOUND_SECONDS)
        url = f"{service.base_url}/v1/test/held?gate={gate.getsockname()[1]}"
        answers = [pool.submit(httpx.get, url, timeout=BOUND_SECONDS) for _ in range(count)]
        held = [gate.accept()[0] for _ in range(count)]
        try:
            yield answers
        finally:
            for connection in held:
                connection.close()
            for answer in answers:
                answer.result(timeout=BOUND_SECONDS)


def widgets(service: ServiceProcess, headers: Mapping[str, str]) -> httpx.Response:
    """A request from a page on an allowed origin."""
    return httpx.get(
        service.base_url + "/v1/widgets",
        headers={**headers, "Origin": ORIGIN},
        timeout=BOUND_SECONDS,
    )


def log_lines(service: ServiceProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in service.output().splitlines() if line.startswith("{")]


def test_inf1_past_the_limit_a_request_is_shed_with_503_until_capacity_frees(
    capped: ServiceProcess, service_credentials: ServiceCredentials
) -> None:
    headers = service_credentials.headers
    with requests_held(capped, LIMIT) as answers:
        # Answered while the held requests still hold the process: refused, not queued.
        shed = widgets(capped, headers)
    assert [answer.result().status_code for answer in answers] == [200] * LIMIT
    assert shed.status_code == 503
    assert shed.headers["retry-after"] == "1"
    assert shed.headers["content-type"] == "application/problem+json"
    # Readable by the page (refused outside CORS), its Retry-After too.
    assert shed.headers["access-control-allow-origin"] == ORIGIN
    assert "retry-after" in shed.headers["access-control-expose-headers"].lower()
    assert shed.json() == {
        "type": "urn:problem-type:overloaded",
        "title": "Overloaded",
        "status": 503,
        "detail": "The service is at capacity; retry after 1s.",
        "instance": "/v1/widgets",
        "request_id": shed.headers["x-request-id"],
    }
    # The held requests' capacity is given back.
    assert widgets(capped, headers).status_code == 200
    with requests_held(capped, LIMIT):
        assert widgets(capped, headers).status_code == 503


def test_inf1_at_the_limit_the_probes_and_the_scrape_still_answer(
    capped: ServiceProcess, service_credentials: ServiceCredentials
) -> None:
    headers = service_credentials.headers
    with requests_held(capped, LIMIT):
        assert [widgets(capped, headers).status_code for _ in range(3)] == [503] * 3
        live = httpx.get(capped.base_url + "/health/live")
        ready = httpx.get(capped.base_url + "/health/ready")
        scrape = httpx.get(capped.base_url + "/metrics", headers=headers)
    assert (live.status_code, ready.status_code, scrape.status_code) == (200, 200, 200)
    assert "http_server_shed_requests_total 3.0" in scrape.text
    assert f"http_server_max_concurrent_requests {float(LIMIT)}" in scrape.text
    # The two held, and the scrape itself.
    assert 'http_server_active_requests{http_request_method="GET"} 3.0' in scrape.text


def test_inf1_shed_requests_are_logged_and_warned_of_once_a_minute(
    capped: ServiceProcess, service_credentials: ServiceCredentials
) -> None:
    with requests_held(capped, LIMIT):
        shed = [widgets(capped, service_credentials.headers) for _ in range(3)]
    warned = [line for line in log_lines(capped) if line["event"] == "requests_shed"]
    # The first at once, the next two left for the next line.
    assert [(line["level"], line["requests"]) for line in warned] == [("warning", 1)]
    assert warned[0]["max_concurrent_requests"] == LIMIT
    access = {line["request_id"]: line for line in log_lines(capped) if line["event"] == "request"}
    for response in shed:
        line = access[response.headers["x-request-id"]]
        assert (line["status"], line["url_path"]) == (503, "/v1/widgets")

    capped.stop()
    # What the minute had not said yet is said at shutdown.
    warned = [line for line in log_lines(capped) if line["event"] == "requests_shed"]
    assert [line["requests"] for line in warned] == [1, 2]


def test_inf1_a_shed_request_whose_body_is_still_coming_has_its_connection_closed(
    service_env: dict[str, str], tmp_path: Path, service_credentials: ServiceCredentials
) -> None:
    # Kept, the connection would be read to the body's declared end, past the body limit (which
    # sits further in), to be reused: the client, not the server, would say when it ends. The
    # body deadline is set out of the way, so only the refusal can close the connection.
    env = service_env | {
        "MAX_CONCURRENT_REQUESTS": str(LIMIT),
        "REQUEST_BODY_GRACE_SECONDS": "120",
    }
    with (
        running_example(env, log_path=tmp_path / "service.log") as capped,
        requests_held(capped, LIMIT),
        socket.create_connection(("127.0.0.1", capped.port), timeout=BOUND_SECONDS) as client,
    ):
        head = (
            "POST /v1/widgets HTTP/1.1\r\nHost: localhost\r\n"
            f"Authorization: {service_credentials.headers['Authorization']}\r\n"
            "Content-Type: application/json\r\nContent-Length: 50000000\r\n\r\n"
        )
        client.sendall(head.encode())  # and not one byte of the body
        answer = b""
        while chunk := client.recv(65536):  # until the server closes the connection
            answer += chunk
    status_line, _, rest = answer.partition(b"\r\n")
    assert status_line == b"HTTP/1.1 503 Service Unavailable"
    assert b"connection: close" in rest.lower()
