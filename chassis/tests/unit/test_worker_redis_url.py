"""TEST-1: under pytest-xdist, workers sharing one Redis (`TEST_REDIS_URL`, CI's service
container) each get a database of their own: one worker's cache clear, rate-limit counters or
revoked sessions never reach another's tests."""

from __future__ import annotations

import pytest

from goldenpath_chassis.testing.fixtures import worker_redis_url

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("url", "worker", "expected"),
    [
        ("redis://127.0.0.1:6379/0", None, "redis://127.0.0.1:6379/0"),  # no workers
        ("redis://127.0.0.1:6379/0", "gw0", "redis://127.0.0.1:6379/0"),
        ("redis://127.0.0.1:6379/0", "gw3", "redis://127.0.0.1:6379/3"),
        ("redis://127.0.0.1:6379", "gw1", "redis://127.0.0.1:6379/1"),
        ("redis://:pw@cache:6379/2?protocol=3", "gw1", "redis://:pw@cache:6379/3?protocol=3"),
        ("redis://127.0.0.1:6379/15", "gw1", "redis://127.0.0.1:6379/0"),  # Redis has 16
        # redis-py reads `db` from the query before the path; a socket's path is the socket's.
        ("redis://127.0.0.1:6379/0?db=4", "gw1", "redis://127.0.0.1:6379/0?db=5"),
        ("unix:///run/redis.sock", "gw2", "unix:///run/redis.sock?db=2"),
        ("unix:///run/redis.sock?db=1&protocol=3", "gw2", "unix:///run/redis.sock?db=3&protocol=3"),
    ],
)
def test_test1_each_worker_has_a_redis_database_of_its_own(
    url: str, worker: str | None, expected: str
) -> None:
    assert worker_redis_url(url, worker) == expected


def test_test1_a_worker_past_redis_databases_is_refused_not_shared() -> None:
    # gw16 would wrap around to gw0's database: its tests would see gw0's.
    with pytest.raises(ValueError, match="gw16 would share a Redis database"):
        worker_redis_url("redis://127.0.0.1:6379/0", "gw16")
