"""The test servers (goldenpath_chassis.testing) are the suite's own, never whoever else holds
their port: `free_port()` only finds a port that was free a moment ago."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from goldenpath_chassis.testing import servers
from goldenpath_chassis.testing.processes import ServiceProcess, start_service
from goldenpath_chassis.testing.servers import PostgresServer, RedisServer

from tests.support.example_process import EXAMPLE_COMMAND, importable

pytestmark = pytest.mark.process


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port someone else listens on, accepting connections and saying nothing."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


class _AnswersEverything(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def other_http_server() -> Iterator[int]:
    """Another HTTP server, that answers every path (its /health/live too) with 200."""
    server = HTTPServer(("127.0.0.1", 0), _AnswersEverything)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


SERVERS: dict[str, Callable[[], RedisServer | PostgresServer]] = {
    "redis": RedisServer.create,
    "postgres": PostgresServer.create,
}


def answers(server: RedisServer | PostgresServer) -> bool:
    """The server itself answers on its port: Redis by its process ID, PostgreSQL to psql."""
    if isinstance(server, RedisServer):
        assert server.process is not None
        return server._process_id() == server.process.pid
    server.create_database("answering")
    return True


@pytest.mark.parametrize("kind", SERVERS)
def test_a_servers_first_start_moves_off_a_port_taken_before_it_binds(
    kind: str, taken_port: int
) -> None:
    """`free_port()` only found a port that was free a moment ago: whoever took it since keeps
    it, and the server starts on another."""
    server = SERVERS[kind]()
    server.port = taken_port
    try:
        server.start()
        assert server.port != taken_port
        assert answers(server)
    finally:
        server.destroy()


# A port no server accepts: a start there fails, and not because the port was taken.
OUT_OF_RANGE_PORT = 70000


@pytest.mark.parametrize("kind", SERVERS)
def test_a_start_that_moved_and_then_failed_otherwise_moves_no_further(
    kind: str, taken_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The server's log holds every attempt's lines: the second attempt's own failure is the
    verdict, not the first's "Address already in use", and the error shows both."""
    handed_out: list[int] = []
    free_port = servers.free_port

    def out_of_range_then_free() -> int:
        handed_out.append(OUT_OF_RANGE_PORT if not handed_out else free_port())
        return handed_out[-1]

    server = SERVERS[kind]()
    server.port = taken_port
    monkeypatch.setattr(servers, "free_port", out_of_range_then_free)
    try:
        with pytest.raises(RuntimeError) as failed:
            server.start()
        assert handed_out == [OUT_OF_RANGE_PORT]  # moved once, for the taken port only
        assert server.port == OUT_OF_RANGE_PORT
        message = str(failed.value)
        assert "Address already in use" in message  # the first attempt's, kept
        assert str(OUT_OF_RANGE_PORT) in message.rpartition("Address already in use")[2]
    finally:
        server.destroy()


@pytest.mark.parametrize("kind", SERVERS)
def test_a_restart_on_a_taken_port_fails_with_its_log(kind: str) -> None:
    """Started again, a server keeps its port (the tests' settings hold its URL), so a port
    taken while it was stopped is an error that shows the server's log."""
    server = SERVERS[kind]()
    try:
        server.start()
        port = server.port
        server.stop()
        with socket.socket() as squatter:
            squatter.bind(("127.0.0.1", port))
            squatter.listen()
            with pytest.raises(RuntimeError, match="Address already in use"):
                server.start()
        assert server.port == port
        if isinstance(server, RedisServer):
            assert server.process is None  # stopped, nothing left running
    finally:
        server.destroy()


def test_a_service_is_not_started_where_another_server_answers(
    other_http_server: int, service_env: dict[str, str], tmp_path: Path
) -> None:
    started: ServiceProcess | None = None
    try:
        with pytest.raises(RuntimeError, match="already listens"):
            started = start_service(
                EXAMPLE_COMMAND,
                env=importable() | service_env,
                port=other_http_server,
                log_path=tmp_path / "service.log",
            )
    finally:
        if started is not None:  # the other server answered in the service's place
            started.stop()
