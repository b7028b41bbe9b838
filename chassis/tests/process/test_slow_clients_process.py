"""SEC-1 (CWE-400): slow clients cannot hold the real service's connections.

The example service runs as a process with a short `REQUEST_HEADER_TIMEOUT_SECONDS`, a short
`REQUEST_BODY_GRACE_SECONDS` and a short `RESPONSE_SEND_TIMEOUT_SECONDS`; raw sockets play the
clients. Without the head deadline uvicorn holds a silent connection and a trickled request
head forever (its keep-alive timer only runs between requests); without the body rate, a body
trickled after the service answered it; without the send timeout, a large answer its client
never reads. Each close is counted in the metrics by its reason, scraped as Prometheus does.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from goldenpath_chassis._core.head_deadline import CLOSE_REASONS
from goldenpath_chassis.testing.live import ServiceCredentials
from goldenpath_chassis.testing.processes import ServiceProcess

from tests.support.example_process import development_env, running_example
from tests.support.large_heads import endless_header_cut, endless_trailer_cut
from tests.support.slow_clients import (
    closed_by_server,
    connect,
    get_on,
    slow_complete_head,
    trickled_body_until_closed,
    trickled_until_closed,
)
from tests.support.slow_readers import ended_by_server, read_to_the_end, unread_request

pytestmark = pytest.mark.process

HEAD_DEADLINE_SECONDS = 2.0
# The default rate (240 bytes a second) stays: the trickling client sends 4.
BODY_GRACE_SECONDS = 1.0
# uvicorn's keep-alive timeout (server.py) is 5 s: pauses between the two, so a deadline wrongly
# counted from the previous response, or from the connection's start, would close the client.
PAUSE_BETWEEN_REQUESTS_SECONDS = 3.0
SEND_TIMEOUT_SECONDS = 1.0
# Far more than the kernel's buffers hold (loopback's take up to 4 MiB): the rest waits in the
# service's transport, which pauses writing.
UNREAD_KIB = 32 * 1024
SHUTDOWN_GRACE_SECONDS = 1
# A stalled reader's shutdown ends after the grace period, and a busy machine's start of the
# stop and its flush take seconds; the default send timeout (60 s) is far past this.
STALLED_SHUTDOWN_BOUND_SECONDS = 20
# Far past the bound on a head (eight times REQUEST_MAX_HEADER_BYTES) and what the kernel's
# buffers take on loopback.
ENDLESS_BYTES = 8 * 1024 * 1024
# The least REQUEST_MAX_HEADER_BYTES allowed: an endless header is cut after 8 KiB.
LEAST_HEADER_BYTES = 1024


def running_strict(
    folder: Path, credentials: ServiceCredentials
) -> AbstractContextManager[ServiceProcess]:
    """The example service with deadlines short enough for the tests to be quick; `credentials`
    let a test scrape its metrics."""
    env = {
        **development_env(),
        **credentials.env,
        "REQUEST_HEADER_TIMEOUT_SECONDS": str(HEAD_DEADLINE_SECONDS),
        "REQUEST_BODY_GRACE_SECONDS": str(BODY_GRACE_SECONDS),
        "RESPONSE_SEND_TIMEOUT_SECONDS": str(SEND_TIMEOUT_SECONDS),
    }
    return running_example(env, log_path=folder / "out.log")


@pytest.fixture(scope="module")
def strict_heads(
    tmp_path_factory: pytest.TempPathFactory, service_credentials: ServiceCredentials
) -> Iterator[ServiceProcess]:
    with running_strict(tmp_path_factory.mktemp("slow-clients"), service_credentials) as process:
        yield process


def test_sec1_a_connection_that_sends_nothing_is_closed(strict_heads: ServiceProcess) -> None:
    with connect(strict_heads.port) as silent:
        assert closed_by_server(silent), "a silent connection is still open"


def test_sec1_a_request_head_trickled_a_byte_at_a_time_is_closed(
    strict_heads: ServiceProcess,
) -> None:
    with connect(strict_heads.port) as slowloris:
        assert trickled_until_closed(slowloris), "a trickling request head is still open"
    assert '"event":"request_heads_timed_out"' in strict_heads.output()


def test_sec1_a_body_trickled_after_its_401_is_closed(strict_heads: ServiceProcess) -> None:
    # Without credentials the service answers before reading the body (SEC-3); uvicorn would
    # then go on reading it for as long as the client keeps trickling.
    with connect(strict_heads.port) as anonymous:
        answer = trickled_body_until_closed(anonymous, "/v1/widgets")
    assert answer is not None, "a trickled body is still open"
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:100]
    assert '"event":"request_bodies_timed_out"' in strict_heads.output()


@pytest.mark.parametrize("where", ["header", "trailer"])
def test_sec1_an_endless_header_or_trailer_is_cut(strict_heads: ServiceProcess, where: str) -> None:
    # httptools bounds neither: it gathered all it was sent, at a cost that grows with the square
    # of the size, holding every other request of the process meanwhile.
    with connect(strict_heads.port) as client:
        if where == "header":
            cut = endless_header_cut(client, most_bytes=ENDLESS_BYTES)
        else:
            cut = endless_trailer_cut(client, "/v1/widgets", most_bytes=ENDLESS_BYTES)
    assert cut, f"an endless {where} is still read"
    output = strict_heads.output()
    assert '"event":"request_heads_too_large"' in output
    assert '"level":"error"' not in output, output


def unread_large_answer_is_reset(port: int, *, streamed: bool) -> bool:
    """Ask for a large answer, read none of it until the service ends the connection (within
    the bound), then all that is left: whether it was reset before the whole answer came."""
    target = f"/v1/test/large?kib={UNREAD_KIB}&streamed={str(streamed).lower()}"
    with unread_request(port, target) as sock:
        assert ended_by_server(sock), "an unread answer is held"
        ended = read_to_the_end(sock)
    return ended.reset and len(ended.received) < UNREAD_KIB * 1024


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "in-pieces"])
def test_sec1_an_answer_its_client_never_reads_is_reset(
    strict_heads: ServiceProcess, streamed: bool
) -> None:
    assert unread_large_answer_is_reset(strict_heads.port, streamed=streamed)
    output = strict_heads.output()
    assert '"event":"responses_unread_timed_out"' in output
    # Nothing is logged as an error: not uvicorn's "Exception in ASGI application" for the
    # handler woken in `send` by the reset, not the chassis's unhandled error.
    assert '"level":"error"' not in output, output


def test_sec1_a_keep_alive_client_pausing_between_requests_is_served(
    strict_heads: ServiceProcess,
) -> None:
    with connect(strict_heads.port) as client:
        for request in range(3):
            if request:
                time.sleep(PAUSE_BETWEEN_REQUESTS_SECONDS)
            assert get_on(client, "/health/live").status == 200


def test_sec1_a_slow_but_complete_head_is_served(strict_heads: ServiceProcess) -> None:
    with connect(strict_heads.port) as client:
        # Four pieces 0.15 s apart: slow, and well within the deadline.
        response = slow_complete_head(client, "/health/live", pieces=4, pause_seconds=0.15)
        assert response.status == 200
        # The next request's head is timed from its own first byte, not from the connection's
        # start: sent slowly after a pause longer than the deadline, it is served too.
        time.sleep(PAUSE_BETWEEN_REQUESTS_SECONDS)
        response = slow_complete_head(client, "/health/live", pieces=4, pause_seconds=0.15)
        assert response.status == 200


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "in-pieces"])
def test_sec1_inf3_a_stalled_reader_holds_a_shutdown_only_for_its_grace_period(
    tmp_path: Path, streamed: bool
) -> None:
    """A client that stopped reading when SIGTERM came is let go when SHUTDOWN_GRACE_SECONDS
    ends, not when RESPONSE_SEND_TIMEOUT_SECONDS (a minute, by default) would reset it: the
    pods' terminationGracePeriodSeconds is computed from the first, and leaves out the second."""
    env = development_env() | {"SHUTDOWN_GRACE_SECONDS": str(SHUTDOWN_GRACE_SECONDS)}
    target = f"/v1/test/large?kib={UNREAD_KIB}&streamed={str(streamed).lower()}"
    with (
        running_example(env, log_path=tmp_path / "out.log") as process,
        unread_request(process.port, target),
    ):
        process.signal()
        exit_code = process.wait(timeout=STALLED_SHUTDOWN_BOUND_SECONDS)
    output = process.output()
    assert exit_code == 0, output
    # A planned stop that cut a client short is one warning, not uvicorn's error lines ("Cancel
    # N running task(s)", "Exception in ASGI application" with the CancelledError's traceback).
    assert '"level":"error"' not in output, output
    assert '"exception"' not in output, output
    cuts = [
        line
        for line in map(json.loads, output.splitlines())
        if line.get("event") == "shutdown_grace_exceeded"
    ]
    assert [(cut["level"], cut["requests"], cut["connections"]) for cut in cuts] == [
        ("warning", 1 if streamed else 0, 1)
    ], output


def slow_head_is_closed(port: int) -> bool:
    with connect(port) as slowloris:
        return trickled_until_closed(slowloris)


def trickled_body_is_closed(port: int) -> bool:
    with connect(port) as anonymous:
        return trickled_body_until_closed(anonymous, "/v1/widgets") is not None


def endless_head_is_cut(port: int) -> bool:
    with connect(port) as client:
        return endless_header_cut(client, most_bytes=ENDLESS_BYTES)


@pytest.mark.parametrize(
    ("event", "variable", "value", "let_go"),
    [
        (
            "request_heads_timed_out",
            "REQUEST_HEADER_TIMEOUT_SECONDS",
            HEAD_DEADLINE_SECONDS,
            slow_head_is_closed,
        ),
        (
            "request_bodies_timed_out",
            "REQUEST_BODY_GRACE_SECONDS",
            BODY_GRACE_SECONDS,
            trickled_body_is_closed,
        ),
        (
            "responses_unread_timed_out",
            "RESPONSE_SEND_TIMEOUT_SECONDS",
            SEND_TIMEOUT_SECONDS,
            functools.partial(unread_large_answer_is_reset, streamed=False),
        ),
        (
            "request_heads_too_large",
            "REQUEST_MAX_HEADER_BYTES",
            LEAST_HEADER_BYTES,
            endless_head_is_cut,
        ),
    ],
    ids=["slow-heads", "slow-bodies", "unread-answers", "large-heads"],
)
def test_sec1_closes_not_said_yet_are_said_at_shutdown(
    tmp_path: Path,
    event: str,
    variable: str,
    value: float,
    let_go: Callable[[int], bool],
) -> None:
    """The first close is said at once, the next within the minute only at shutdown: the last
    minute of an attack is not lost when the process stops."""
    env = development_env() | {variable: str(value)}
    with running_example(env, log_path=tmp_path / "out.log") as process:
        for _ in range(2):
            assert let_go(process.port), "the client's connection is still open"
    said = [
        line["connections"]
        for line in map(json.loads, process.output().splitlines())
        if line.get("event") == event
    ]
    assert said == [1, 1], process.output()


def closed_connections(service: ServiceProcess, headers: dict[str, str]) -> dict[str, float]:
    """`http_server_connections_closed_total` by reason, scraped from /metrics."""
    scrape = httpx.get(service.base_url + "/metrics", headers=headers)
    assert scrape.status_code == 200, scrape.text
    return {
        sample.labels["reason"]: sample.value
        for family in text_string_to_metric_families(scrape.text)
        for sample in family.samples
        if sample.name == "http_server_connections_closed_total"
    }


def test_sec1_obs1_each_close_is_counted_once_by_its_reason(
    tmp_path: Path, service_credentials: ServiceCredentials
) -> None:
    """An operator alerts on the closes' rate: every reason's series is there at 0 before the
    first close, and each close adds one to its own. The close and the count are one callback
    of the event loop, which serves the next scrape only after it: nothing is waited for."""
    headers = dict(service_credentials.headers)
    closes: list[tuple[str, Callable[[int], bool]]] = [
        ("head_timeout", slow_head_is_closed),
        ("response_unread", functools.partial(unread_large_answer_is_reset, streamed=False)),
        ("body_too_slow", trickled_body_is_closed),
        ("head_too_large", endless_head_is_cut),
    ]
    with running_strict(tmp_path, service_credentials) as process:
        counted = closed_connections(process, headers)
        assert counted == dict.fromkeys(CLOSE_REASONS, 0.0)
        for reason, let_go in closes:
            assert let_go(process.port), f"{reason}: the client's connection is still open"
            now = closed_connections(process, headers)
            assert now == counted | {reason: counted[reason] + 1}, reason
            counted = now
