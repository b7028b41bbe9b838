"""RES-1/RES-2: the outbound client against a real, flaky HTTP server on loopback."""

from __future__ import annotations

import gzip
import ipaddress
import itertools
import socket
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from goldenpath_chassis import Service, chassis_of
from goldenpath_chassis._core.http_client import (
    DeadlineExceededError,
    OutboundHttp,
    RetryPolicy,
)
from goldenpath_chassis._core.metrics import Metrics
from goldenpath_chassis._core.resilience import (
    CircuitBreakers,
    CircuitOpenError,
    DependencyUnavailableError,
)
from goldenpath_chassis._core.user_urls import ANY_PORT, UserUrlPolicy, UserUrlTransport
from goldenpath_chassis.testing.asgi import asgi_client

from tests.support.flaky_server import Drop, FlakyServer, Hang, Respond, flaky_server
from tests.support.unbounded_server import unbounded_server

pytestmark = pytest.mark.integration

QUICK = RetryPolicy(attempts=5, deadline_seconds=5, wait_initial=0.08, wait_max=1, wait_jitter=0.01)


@pytest.fixture
def server() -> Iterator[FlakyServer]:
    with flaky_server() as running:
        yield running


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(service_name="test", service_version="0")


# Longer than any pause of a busy machine: breaker tests move the clock past it (`wall_clock`).
RESET_SECONDS = 60


class WallClock:
    """`time.time()` moved forward on demand: the breakers (ours and purgatory's) read it to
    decide an open breaker's reset time has passed."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self._offset = 0.0
        real = time.time
        monkeypatch.setattr(time, "time", lambda: real() + self._offset)

    def advance(self, seconds: float) -> None:
        self._offset += seconds


@pytest.fixture
def wall_clock(monkeypatch: pytest.MonkeyPatch) -> WallClock:
    return WallClock(monkeypatch)


# Every test of a fixture below runs on httpx's own transport and on the user-URL client's
# (the chassis's transport over an httpcore pool, `pool_transport.py`), loopback allowed: the
# retries, breakers, timeouts and bounds must see the same errors through either.
TRANSPORTS = ["httpx", "user-urls"]


def client_on(transport: str, timeout: httpx.Timeout | float) -> httpx.AsyncClient:
    if transport == "httpx":
        return httpx.AsyncClient(timeout=timeout)
    policy = UserUrlPolicy(
        https_only=False,
        allowed_networks=[ipaddress.ip_network("127.0.0.0/8")],
        allowed_ports=ANY_PORT,  # the test servers listen on ephemeral ports
    )
    guarded = UserUrlTransport(policy, tls=httpx.create_ssl_context(), limits=httpx.Limits())
    return httpx.AsyncClient(transport=guarded, timeout=timeout)


@pytest.fixture(params=TRANSPORTS)
async def outbound(metrics: Metrics, request: pytest.FixtureRequest) -> AsyncIterator[OutboundHttp]:
    # Retry tests must not trip breakers; breaker tests declare a threshold of 3.
    breakers = CircuitBreakers(threshold=50, reset_seconds=RESET_SECONDS, metrics=metrics)
    # A read timeout a busy test machine never reaches by accident (a local reply takes
    # milliseconds), so only a deliberate hang is cut.
    timeout = httpx.Timeout(connect=0.5, read=1.0, write=0.5, pool=0.5)
    async with client_on(request.param, timeout) as client:
        yield OutboundHttp(client, breakers=breakers, metrics=metrics, policy=QUICK)


def retries(metrics: Metrics, dependency: str) -> float | None:
    return metrics.registry.get_sample_value(
        "http_client_retries_total", {"dependency": dependency}
    )


async def test_res2_transient_failures_are_retried_with_growing_delays(
    server: FlakyServer, outbound: OutboundHttp, metrics: Metrics
) -> None:
    server.then(Respond(503), Respond(502), Respond(504), Respond(429))
    response = await outbound.request("GET", server.url, dependency="flaky")
    assert response.status_code == 200
    assert len(server.arrivals) == 5
    gaps = server.gaps()
    assert all(later > earlier for earlier, later in itertools.pairwise(gaps)), gaps
    assert gaps[0] >= 0.08
    assert retries(metrics, "flaky") == 4


async def test_res2_retries_stop_at_the_deadline(
    server: FlakyServer, outbound: OutboundHttp
) -> None:
    server.always(Respond(503))
    policy = RetryPolicy(attempts=50, deadline_seconds=0.8, wait_initial=0.05, wait_jitter=0.01)
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        await outbound.request("GET", server.url, dependency="slow-to-recover", policy=policy)
    took = time.monotonic() - started
    assert 0.8 <= took < 1.5, took  # the deadline, plus scheduling slack on a busy machine
    gaps = server.gaps()
    assert len(server.arrivals) < 8  # 0.05 + 0.1 + 0.2 + 0.4 ... the deadline cuts it short
    assert gaps == sorted(gaps)


async def test_res2_a_hanging_dependency_is_cut_by_the_read_timeout_and_retried(
    server: FlakyServer, outbound: OutboundHttp
) -> None:
    server.then(Hang(2.5), Drop())
    response = await outbound.request("GET", server.url, dependency="hangs")
    assert response.status_code == 200
    assert len(server.arrivals) == 3


async def test_res2_non_idempotent_requests_are_not_retried(
    server: FlakyServer, outbound: OutboundHttp
) -> None:
    server.always(Respond(503))
    response = await outbound.request("POST", server.url, dependency="orders", json={"n": 1})
    assert response.status_code == 503
    assert len(server.arrivals) == 1


async def test_res2_a_post_with_an_idempotency_key_is_retried(
    server: FlakyServer, outbound: OutboundHttp
) -> None:
    server.then(Respond(503))
    response = await outbound.request(
        "POST", server.url, dependency="orders", json={"n": 1},
        headers={"Idempotency-Key": "job-42"},
    )  # fmt: skip
    assert response.status_code == 200
    assert [a.headers["Idempotency-Key"] for a in server.arrivals] == ["job-42", "job-42"]


async def test_res2_client_errors_are_not_retried(
    server: FlakyServer, outbound: OutboundHttp
) -> None:
    server.then(Respond(404), Respond(500))
    assert (await outbound.request("GET", server.url, dependency="d")).status_code == 404
    assert (await outbound.request("GET", server.url, dependency="d")).status_code == 500
    assert len(server.arrivals) == 2


async def test_res2_retry_after_is_honoured(server: FlakyServer, outbound: OutboundHttp) -> None:
    server.then(Respond(503, headers=(("Retry-After", "1"),)))
    response = await outbound.request("GET", server.url, dependency="busy")
    assert response.status_code == 200
    assert server.gaps()[0] >= 1.0


async def test_res1_breaker_opens_fails_fast_half_opens_and_closes(
    server: FlakyServer, outbound: OutboundHttp, metrics: Metrics, wall_clock: WallClock
) -> None:
    once = RetryPolicy(attempts=1)

    def state(name: str) -> float | None:
        return metrics.registry.get_sample_value(
            "circuit_breaker_state", {"dependency": "webhook", "state": name}
        )

    outbound.declare("webhook", threshold=3)
    server.always(Respond(503))
    for _ in range(3):  # the threshold
        response = await outbound.request("GET", server.url, dependency="webhook", policy=once)
        assert response.status_code == 503
    assert outbound.breakers.state("webhook") == "open"
    assert state("open") == 1

    started = time.monotonic()
    with pytest.raises(CircuitOpenError):
        await outbound.request("GET", server.url, dependency="webhook", policy=once)
    assert time.monotonic() - started < 0.2
    assert len(server.arrivals) == 3  # failed fast: the dependency was not called

    wall_clock.advance(RESET_SECONDS + 1)  # past the reset time
    assert outbound.breakers.state("webhook") == "half-open"
    assert state("half-open") == 1
    server.always(Respond(503))
    await outbound.request("GET", server.url, dependency="webhook", policy=once)
    assert outbound.breakers.state("webhook") == "open"  # the trial failed: open again

    wall_clock.advance(RESET_SECONDS + 1)
    server.always(Respond(200))
    response = await outbound.request("GET", server.url, dependency="webhook", policy=once)
    assert response.status_code == 200
    assert outbound.breakers.state("webhook") == "closed"
    assert state("closed") == 1
    assert (
        metrics.registry.get_sample_value("circuit_breaker_opened_total", {"dependency": "webhook"})
        == 2
    )


async def test_res1_breakers_are_per_dependency(
    server: FlakyServer, outbound: OutboundHttp
) -> None:
    outbound.declare("broken", threshold=3)
    server.always(Respond(503))
    once = RetryPolicy(attempts=1)
    for _ in range(3):
        await outbound.request("GET", server.url, dependency="broken", policy=once)
    server.always(Respond(200))
    with pytest.raises(CircuitOpenError):
        await outbound.request("GET", server.url, dependency="broken")
    response = await outbound.request("GET", server.url, dependency="healthy")
    assert response.status_code == 200


async def test_res1_an_open_breaker_shows_in_readiness_without_failing_it(
    server: FlakyServer, service: Service, database_url: str, auth_settings: dict[str, str]
) -> None:
    settings = service.load_settings(
        **auth_settings,
        app_env="test",
        database_url=database_url,
        breaker_failure_threshold=2,
        http_retry_attempts=1,
    )
    app = service.create_app(settings)
    server.always(Respond(503))
    async with asgi_client(app, lifespan=True) as client:
        http = chassis_of(app).resources.http
        for _ in range(2):
            await http.request("GET", server.url, dependency="partner")
        response = await client.get("/health/ready")
    assert response.status_code == 200
    assert response.json()["circuit_breakers"]["partner"] == "open"


BOUND = 1024 * 1024


@pytest.fixture(params=TRANSPORTS)
async def bounded(metrics: Metrics, request: pytest.FixtureRequest) -> AsyncIterator[OutboundHttp]:
    breakers = CircuitBreakers(threshold=50, reset_seconds=RESET_SECONDS, metrics=metrics)
    async with client_on(request.param, 5) as client:
        yield OutboundHttp(
            client, breakers=breakers, metrics=metrics, policy=QUICK, max_response_bytes=BOUND
        )


@pytest.mark.parametrize("declare_length", [False, True], ids=["streamed", "declared"])
async def test_res2_a_response_without_end_fails_the_call_unread(
    bounded: OutboundHttp, declare_length: bool
) -> None:
    """64 MiB answered to a GET: the call fails at the bound, is not retried (the answer would
    be as long again), and the client closes the connection before the server sends it all."""
    with unbounded_server(declare_length=declare_length) as server:
        with pytest.raises(DependencyUnavailableError, match="over 1048576 bytes"):
            await bounded.request("GET", server.url, dependency="partner")
        server.wait_done()
    assert not server.completed


async def test_res2_a_head_answer_may_declare_any_length(bounded: OutboundHttp) -> None:
    """A HEAD's Content-Length is the resource's, with no body to read: not over the bound."""
    with unbounded_server(declare_length=True) as server:
        response = await bounded.request("HEAD", server.url, dependency="partner")
        server.wait_done()
    assert response.status_code == 200
    assert int(response.headers["content-length"]) > BOUND
    assert response.content == b""


async def test_res2_the_bound_counts_the_decompressed_body(
    server: FlakyServer, bounded: OutboundHttp
) -> None:
    """A few kilobytes of gzip that expand past the bound are refused as the expanded body."""
    bomb = gzip.compress(b" " * (8 * BOUND))
    assert len(bomb) < BOUND // 16
    server.always(Respond(200, headers=(("Content-Encoding", "gzip"),), body=bomb))
    with pytest.raises(DependencyUnavailableError, match="over 1048576 bytes"):
        await bounded.request("GET", server.url, dependency="partner")
    assert len(server.arrivals) == 1


async def test_res2_a_response_within_the_bound_is_read_whole(
    server: FlakyServer, bounded: OutboundHttp
) -> None:
    body = b"[" + b"1," * (BOUND // 2 - 2) + b"1]"
    server.always(Respond(200, headers=(("Content-Encoding", "identity"),), body=body))
    response = await bounded.request("GET", server.url, dependency="partner")
    assert response.content == body
    assert len(response.json()) == BOUND // 2 - 1


async def test_res2_a_dropped_connection_is_retried(
    server: FlakyServer, outbound: OutboundHttp, metrics: Metrics
) -> None:
    """Closed without an answer (RemoteProtocolError): a transport failure, tried again."""
    server.then(Drop(), Drop())
    response = await outbound.request("GET", server.url, dependency="dropping")
    assert response.status_code == 200
    assert len(server.arrivals) == 3
    assert retries(metrics, "dropping") == 2


async def test_res1_refused_connections_open_the_breaker(outbound: OutboundHttp) -> None:
    """Connection refused (ConnectError), tried `attempts` times, counts against the breaker."""
    # Bound, never listening: refused, and no other process can take the port meanwhile.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/"
        outbound.declare("refusing", threshold=2)
        twice = RetryPolicy(attempts=2, deadline_seconds=5, wait_initial=0.01, wait_jitter=0)
        with pytest.raises(DependencyUnavailableError, match="failed: ConnectError"):
            await outbound.request("GET", url, dependency="refusing", policy=twice)
    assert outbound.breakers.state("refusing") == "open"
