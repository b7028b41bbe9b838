"""The test servers themselves: they start, answer, stop, and start again on the same port."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.ports import refusing_port
from tests.support.service import RunningService, start
from tests.support.taken_ports import taken_ports_first


def answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_a_refusing_port_refuses_and_cannot_be_taken_while_held() -> None:
    # What a test's "URL where nothing answers" needs: a server started by anyone meanwhile
    # would answer in nothing's place, as it could on a port free_port() found and let go.
    with refusing_port() as port:
        assert not answers(port)
        with socket.socket() as squatter:
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with pytest.raises(OSError, match="Address already in use"):
                squatter.bind(("127.0.0.1", port))
        assert not answers(port)


def test_postgres_restarts_on_its_port(postgres: Any) -> None:
    assert answers(postgres.port)
    url = postgres.create_database("restart_check")
    assert url.endswith("/restart_check")
    postgres.stop()
    assert not answers(postgres.port)
    postgres.start()
    assert answers(postgres.port)


def test_redis_restarts_on_its_port(redis: Any) -> None:
    assert answers(redis.port)
    redis.stop()
    assert not answers(redis.port)
    redis.start()
    assert answers(redis.port)


# A service that writes a line for each request before it answers, and one as it stops.
LINE_WRITER = """
import http.server, os, signal, sys

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        print(f"request {self.path}", flush=True)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass

def stop(*_):
    print("stopped", flush=True)
    os._exit(0)

signal.signal(signal.SIGTERM, stop)
http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
"""


def start_line_writer(tmp_path: Path, *, log_through_pipe: bool = False) -> RunningService:
    script = tmp_path / "line_writer.py"
    script.write_text(LINE_WRITER)
    return start(
        tmp_path,
        [str(script)],
        env={},
        log_path=tmp_path / "service.log",
        python=Path(sys.executable),
        log_through_pipe=log_through_pipe,
    )


def test_a_service_logging_through_a_pipe_loses_and_delays_no_line(tmp_path: Path) -> None:
    # What the benchmarks start services with: each line is in `output()` once the service has
    # written it, however far the copying thread lags, and every line is there after `stop()`.
    service = start_line_writer(tmp_path, log_through_pipe=True)
    with httpx.Client(base_url=service.base_url) as client:
        for count in range(1, 201):
            client.get(f"/{count}").raise_for_status()
            assert service.output().count("request") == count + 1  # the readiness poll's too
    assert service.stop() == 0
    lines = service.output().splitlines()
    assert lines[-2:] == ["request /200", "stopped"]


def test_a_service_moves_off_a_port_taken_before_it_binds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A port already listened on is never used, and a service that exits at its bind (the port
    # taken after the check) is started again on another.
    with taken_ports_first(monkeypatch) as taken:
        service = start_line_writer(tmp_path)
        try:
            taken.assert_moved_off()
            assert service.base_url.endswith(f":{taken.handed_out[-1]}")
            httpx.get(service.base_url + "/answered").raise_for_status()
            assert "request /answered" in service.output()
        finally:
            service.stop()
