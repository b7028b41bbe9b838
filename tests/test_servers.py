"""The test servers themselves: they start, answer, stop, and start again on the same port."""

from __future__ import annotations

import socket
from typing import Any


def answers(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


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
