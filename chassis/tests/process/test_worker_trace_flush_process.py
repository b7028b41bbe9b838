"""OBS-2/INF-3: the worker as a real process flushes its spans at shutdown, within
`SHUTDOWN_TRACE_FLUSH_SECONDS` even when the collector hangs.

The worker's stop, on SIGTERM: it stops claiming, finishes the jobs in hand (within
`WORKER_SHUTDOWN_GRACE_SECONDS`), closes its resources and flushes its spans last. Kubernetes
gives it the sum of those two settings and a margin (the template's tests/test_delivery.py); a
flush waiting on a hung collector for the SDK's 30 s would overrun it, and the pod be killed.
Each test holds a job in hand at SIGTERM (`test.held`, tests/example/slow.py) and releases it,
then times the rest of the stop.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from goldenpath_chassis import Service
from goldenpath_chassis._core import queue
from goldenpath_chassis.testing.fixtures import own_database
from goldenpath_chassis.testing.otlp import otlp_receiver
from goldenpath_chassis.testing.processes import ServiceProcess

from tests.example.slow import HELD_JOB
from tests.support.example_process import running_worker

pytestmark = pytest.mark.process

FLUSH_SECONDS = 2
# What the deployments leave the worker's own stop, beyond the jobs' grace period and the flush:
# compose's stop_grace_period (40 s) less WORKER_SHUTDOWN_GRACE_SECONDS (30) and
# SHUTDOWN_TRACE_FLUSH_SECONDS (5); Kubernetes leaves 10. From the held job's release to the
# exit, that stop is the job's return, the claim loop's last wake, the pool, Redis and
# the HTTP client closed, the exporter's first export (a healthy collector) and the
# interpreter's exit. The healthy stop is held to it, the hung one to it plus the flush's bound.
STOP_SECONDS = 5


@pytest.fixture(scope="module")
def worker_database(
    service: Service, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of the worker's own: the session's holds jobs other tests left, which this
    worker would run (their spans in the export, their time in its drain)."""
    with own_database(service, request, tmp_path_factory, name="worker") as url:
        yield url


async def _in_session[T](database_url: str, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session:
            return await work(session)
    finally:
        await engine.dispose()


class HeldJob:
    """A `test.held` job: in hand once its handler connects, done once the test hangs up."""

    def __init__(self, job_id: str, listener: socket.socket) -> None:
        self.id = job_id
        self._listener = listener
        self._connection: socket.socket | None = None

    def wait_until_in_hand(self, worker: ServiceProcess) -> None:
        """Until the worker runs the job: its handler has connected."""
        try:
            self._connection, _ = self._listener.accept()
        except TimeoutError:
            raise AssertionError(f"the job never ran:\n{worker.output()}") from None

    def release(self) -> None:
        """Close the job's connection: its handler returns."""
        if self._connection is not None:
            self._connection.close()
            self._connection = None


@contextmanager
def _held_job(database_url: str) -> Iterator[HeldJob]:
    """A `test.held` job, enqueued; held by the connection it makes to this listener."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(30)
        port: int = listener.getsockname()[1]

        async def enqueue(session: AsyncSession) -> str:
            job = queue.enqueue(session, HELD_JOB, {"release_port": port}, max_attempts=1)
            await session.commit()
            return str(job.id)

        held = HeldJob(asyncio.run(_in_session(database_url, enqueue)), listener)
        try:
            yield held
        finally:
            held.release()


def _job_status(database_url: str, job_id: str) -> str | None:
    async def status(session: AsyncSession) -> str | None:
        found: str | None = await session.scalar(
            select(queue.Job.status).where(queue.Job.id == uuid.UUID(job_id))
        )
        return found

    return asyncio.run(_in_session(database_url, status))


def _stop_while_in_hand(worker: ServiceProcess) -> None:
    """SIGTERM, and wait until the worker says it is draining the job still in hand."""
    worker.signal()
    deadline = time.monotonic() + 10
    while '"event":"worker_draining"' not in worker.output():
        assert worker.process.poll() is None, worker.output()
        assert time.monotonic() < deadline, worker.output()
        time.sleep(0.02)


def _release_and_time_the_stop(worker: ServiceProcess, job: HeldJob, *, timeout: float) -> float:
    """Let the held job finish; the seconds from then to the worker's exit (which must be 0)."""
    job.release()
    released = time.monotonic()
    code, exited = worker.wait_timed(timeout=timeout)
    assert code == 0, worker.output()
    return exited - released


def _lines(worker: ServiceProcess) -> list[dict[str, Any]]:
    return [json.loads(line) for line in worker.output().splitlines()]


def _worker_env(database_url: str, redis_url: str, endpoint: str) -> dict[str, str]:
    return {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "WORKER_POLL_SECONDS": "0.1",
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "SHUTDOWN_TRACE_FLUSH_SECONDS": str(FLUSH_SECONDS),
    }


def test_obs2_inf3_a_hung_collector_holds_the_workers_stop_for_the_flush_bound_only(
    tmp_path: Path, worker_database: str, redis_url: str
) -> None:
    with otlp_receiver(answer="hold") as receiver, _held_job(worker_database) as job:
        env = _worker_env(worker_database, redis_url, receiver.endpoint) | {
            "OTEL_BSP_SCHEDULE_DELAY": "50",
            # A held export stays open past the test: only the flush's bound ends the wait.
            "OTEL_EXPORTER_OTLP_TIMEOUT": "60",
        }
        with running_worker(env, log_path=tmp_path / "worker.log", wait_path=None) as worker:
            try:
                job.wait_until_in_hand(worker)
                # The collector hangs: the exporter's thread waits on it, the job's span will queue.
                receiver.wait_until_held(1)
                _stop_while_in_hand(worker)
                stopped_in = _release_and_time_the_stop(
                    worker, job, timeout=FLUSH_SECONDS + STOP_SECONDS
                )
            finally:
                job.release()  # a failed test's worker is not left draining it for its grace period

    # The flush was waited for, its whole bound, and then given up.
    assert stopped_in >= FLUSH_SECONDS, worker.output()
    lines = _lines(worker)
    events = [line["event"] for line in lines]
    done = [line for line in lines if line["event"] == "job_done"]
    assert [line["job_id"] for line in done] == [job.id]
    assert _job_status(worker_database, job.id) is None  # completed, not left for a retry
    (cut,) = [line for line in lines if line["event"] == "trace_flush_cut_short"]
    assert cut["flush_seconds"] == FLUSH_SECONDS
    assert cut["queued_spans"] >= 1  # the job's span among them
    order = ["worker_draining", "job_done", "worker_stopped", "trace_flush_cut_short"]
    assert [event for event in events if event in order] == order


def test_obs2_inf3_the_workers_last_spans_reach_the_collector_at_shutdown(
    tmp_path: Path, worker_database: str, redis_url: str
) -> None:
    with otlp_receiver() as receiver, _held_job(worker_database) as job:
        env = _worker_env(worker_database, redis_url, receiver.endpoint) | {
            # No export before the shutdown: not by the schedule, nor by a full batch (the
            # claims' statements make a few spans a poll).
            "OTEL_BSP_SCHEDULE_DELAY": "600000",
            "OTEL_BSP_MAX_EXPORT_BATCH_SIZE": "2048",
            # A millisecond an export, were it applied: the SDK does not, and the worker says so.
            "OTEL_BSP_EXPORT_TIMEOUT": "1",
        }
        with running_worker(env, log_path=tmp_path / "worker.log", wait_path=None) as worker:
            try:
                job.wait_until_in_hand(worker)
                _stop_while_in_hand(worker)
                assert receiver.requests == 0  # only the final flush can deliver the job's span
                stopped_in = _release_and_time_the_stop(worker, job, timeout=STOP_SECONDS)
            finally:
                job.release()  # a failed test's worker is not left draining it for its grace period

    jobs = [span for span in receiver.received() if span.name == f"process {HELD_JOB}"]
    assert [span.attributes["messaging.message.id"] for span in jobs] == [job.id]
    events = [line["event"] for line in _lines(worker)]
    assert "otel_bsp_export_timeout_ignored" in events
    assert "trace_flush_cut_short" not in events
    assert "span_export_failed" not in events
    assert stopped_in < STOP_SECONDS
