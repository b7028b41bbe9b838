"""The job worker process (ARCH-3): claims due jobs and runs their handlers, stops gracefully.

Runs as its own process (`python -m <package> worker`), one per container like the API
(INF-1); scale by replicas. On SIGTERM/SIGINT it stops claiming, lets the jobs in hand finish
within `WORKER_SHUTDOWN_GRACE_SECONDS`, and exits 0; a job cut off by the grace period keeps its
lease and is retried by another worker once the lease expires, so nothing is lost.

The worker holds its jobs under a short lease (`JOB_LEASE_SECONDS`) that it extends while they
run (`job_leases.py`): a worker that died leaves its jobs to another within about a lease. A job
runs for at most `JOB_MAX_RUN_SECONDS`, and only while its lease holds: then the handler is
cancelled and the attempt fails (retried with backoff). A hung handler would otherwise hold its
slot for ever. A worker claims only the kinds it has a handler for, so during a rolling
deployment an old worker leaves a new kind to the new workers instead of spending its attempts.
A claim that fails (the database restarting) is said at once, then once a minute while it
lasts, and tried again each poll: the worker rides out the outage like the API does.

A handler that knows its job can never succeed (a payload of a shape it no longer reads) raises
`PermanentJobError`: the job is failed at once, kept for a human, never retried. A failure the
worker cannot record (the database down as the job fails) is said in a warning; the job keeps
its claim, and is retried once its lease runs out.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any

from opentelemetry import trace
from sqlalchemy.ext.asyncio import AsyncSession
from structlog.typing import FilteringBoundLogger

from . import queue
from .cache import Cache
from .database import Database
from .job_leases import (
    HEARTBEAT_TASK_NAME,
    HeldJob,
    JobLeaseLostError,
    JobRunTimeExceededError,
    LeaseKeeper,
)
from .logging import get_logger
from .metrics import Metrics
from .repeated_failure_line import RepeatedFailureLine
from .tracing import job_span, mark_job_failed

JobHandler = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]
"""Does the job's work in the given session; the worker commits it with the job's removal.
Raises `PermanentJobError` for a job that can never succeed, any other exception to be retried."""

_log = get_logger(__name__)

# The outcomes of a run, the `outcome` label of job_runs_total. Abandoned: the run's failure
# could not be recorded, or another worker had claimed the job again; its lease decides.
SUCCEEDED = "succeeded"
RETRIED = "retried"
FAILED = "failed"
ABANDONED = "abandoned"
CANCELLED = "cancelled"

__all__ = [
    "JobHandler",
    "JobLeaseLostError",
    "JobRunTimeExceededError",
    "PermanentJobError",
    "Worker",
    "install_signal_handlers",
]


class PermanentJobError(Exception):
    """Raised by a handler whose job can never succeed: failed at once, never retried.

    For what no retry can mend (a payload whose shape changed, a record that can never be
    valid), where the attempts left would only repeat the failure. The job is kept as
    `failed` with the message as its last error, for a human to read and requeue
    (`jobs retry`); the message reaches the log, its URLs' credentials redacted.
    """


class Worker:
    def __init__(
        self,
        database: Database,
        handlers: Mapping[str, JobHandler],
        *,
        concurrency: int = 4,
        poll_seconds: float = 1.0,
        lease_seconds: float = 30.0,
        max_run_seconds: float = 900.0,
        shutdown_grace_seconds: float = 30.0,
        cache: Cache | None = None,
        tracer: trace.Tracer | None = None,
        claim_failed_every_seconds: float = 60.0,
        metrics: Metrics | None = None,
    ) -> None:
        self._database = database
        self._cache = cache
        self._tracer = tracer or trace.NoOpTracer()
        self._handlers = dict(handlers)
        self._concurrency = concurrency
        self._poll_seconds = poll_seconds
        self._lease = timedelta(seconds=lease_seconds)
        self._leases = LeaseKeeper(database, self._lease, max_run_seconds=max_run_seconds)
        self._claim_failing = RepeatedFailureLine(
            _log,
            "job_claim_failed",
            recovered_event="job_claim_recovered",
            every_seconds=claim_failed_every_seconds,
        )
        self._grace = shutdown_grace_seconds
        self._stopping = asyncio.Event()
        self._metrics = metrics
        # The event loop's time when the claim loop last went round; None before it starts.
        self._went_round_at: float | None = None

    def stop(self) -> None:
        self._stopping.set()

    def is_live(self, stale_after_seconds: float) -> bool:
        """Whether the claim loop went round within `stale_after_seconds` (its liveness).

        A wedged claim loop (its task dead, or stuck) stops going round. Draining after `stop()`
        is live: the jobs in hand may take the grace period.
        """
        if self._stopping.is_set():
            return True
        if self._went_round_at is None:
            return False
        return asyncio.get_running_loop().time() - self._went_round_at <= stale_after_seconds

    def is_ready(self) -> bool:
        """Claiming: the claim loop runs, is not stopping, and its last claim succeeded."""
        return (
            self._went_round_at is not None
            and not self._stopping.is_set()
            and not self._claim_failing.failing
        )

    async def run_once(self) -> int:
        """Claim one batch and run it to the end; return how many jobs were claimed."""
        lease_ends = self._lease_ends()
        jobs = await self._claim(self._concurrency)
        async with self._keeping_leases():
            await asyncio.gather(*(self._run_job(job, lease_ends) for job in jobs))
        return len(jobs)

    def _lease_ends(self) -> float:
        """When the lease of jobs claimed from now ends: taken before the claim, so no later."""
        return asyncio.get_running_loop().time() + self._lease.total_seconds()

    @contextlib.asynccontextmanager
    async def _keeping_leases(self) -> AsyncIterator[None]:
        heartbeat = asyncio.create_task(self._leases.keep(), name=HEARTBEAT_TASK_NAME)
        try:
            yield
        finally:
            heartbeat.cancel()
            await asyncio.wait([heartbeat])

    async def _claim(self, limit: int) -> Sequence[queue.Job]:
        async with self._database.sessionmaker() as session:
            return await queue.claim(
                session, limit=limit, lease=self._lease, kinds=self._handlers.keys()
            )

    async def _claim_or_wait(self, limit: int) -> Sequence[queue.Job]:
        """Claim, or, if the database fails, say so (once a minute) and claim again at the
        next poll."""
        try:
            jobs = await self._claim(limit)
        except Exception as error:
            self._claim_failing.failed(error)
            return []
        self._claim_failing.succeeded()
        return jobs

    async def run(self) -> None:
        """Work until `stop()`; then finish the jobs in hand, within the grace period."""
        _log.info("worker_started", kinds=sorted(self._handlers), concurrency=self._concurrency)
        async with self._keeping_leases():
            await self._work()
        _log.info("worker_stopped")

    async def _work(self) -> None:
        in_flight: set[asyncio.Task[None]] = set()
        while not self._stopping.is_set():
            self._went_round_at = asyncio.get_running_loop().time()
            free = self._concurrency - len(in_flight)
            if free > 0:
                lease_ends = self._lease_ends()
                jobs = await self._claim_or_wait(free)
                for job in jobs:
                    task = asyncio.create_task(self._run_job(job, lease_ends))
                    in_flight.add(task)
                    task.add_done_callback(in_flight.discard)
                if jobs and len(in_flight) < self._concurrency:
                    continue  # more may be due right away
            await self._sleep_or_stop(in_flight)
        if in_flight:
            _log.info("worker_draining", jobs=len(in_flight), grace_seconds=self._grace)
            _, unfinished = await asyncio.wait(in_flight, timeout=self._grace)
            for task in unfinished:
                task.cancel()

    async def _sleep_or_stop(self, in_flight: set[asyncio.Task[None]]) -> None:
        waiters: set[asyncio.Future[Any]] = {asyncio.ensure_future(self._stopping.wait())}
        if len(in_flight) >= self._concurrency:
            waiters |= set(in_flight)  # wake as soon as a slot frees up
        _, pending = await asyncio.wait(
            waiters, timeout=self._poll_seconds, return_when=asyncio.FIRST_COMPLETED
        )
        for waiter in pending:
            if waiter not in in_flight:
                waiter.cancel()

    async def _run_job(self, job: queue.Job, lease_ends: float) -> None:
        # One span per job, continuing the trace of the request that enqueued it.
        with (
            self._leases.holding(job.id, job.attempts, lease_ends) as held,
            job_span(self._tracer, job.kind, str(job.id), job.trace_context),
        ):
            await self._run_job_traced(job.id, job.kind, job.payload, held)

    async def _run_job_traced(
        self, job_id: Any, kind: str, payload: dict[str, Any], held: HeldJob
    ) -> None:
        log = _log.bind(job_id=str(job_id), job_kind=kind)
        handler = self._handlers[kind]  # claimed only for the kinds it handles
        started = time.monotonic()
        try:
            async with self._database.sessionmaker() as session:
                await held.run(handler(session, payload))
                if not await queue.complete(session, job_id, attempt=held.attempt):
                    # Claimed again before this run could finish: its writes are rolled back.
                    raise JobLeaseLostError("claimed by another worker before it finished")
                await session.commit()
                if self._cache is not None:
                    # What the handler changed must not be served stale from the cache (PERF-1).
                    await self._cache.apply_invalidations(session)
        except asyncio.CancelledError:
            log.warning("job_cancelled_at_shutdown")
            self._count_run(kind, CANCELLED, started)
            raise
        except Exception as error:
            mark_job_failed(trace.get_current_span(), error)
            outcome = await self._record_failure(log, job_id, error, held.attempt)
            self._count_run(kind, outcome, started)
        else:
            log.info("job_done")
            self._count_run(kind, SUCCEEDED, started)

    def _count_run(self, kind: str, outcome: str, started: float) -> None:
        if self._metrics is not None:
            self._metrics.job_runs.labels(kind, outcome).inc()
            self._metrics.job_run_duration.labels(kind).observe(time.monotonic() - started)

    async def _record_failure(
        self, log: FilteringBoundLogger, job_id: Any, error: Exception, attempt: int
    ) -> str:
        """Record the failed run; return its outcome (retried, failed or abandoned)."""
        permanent = isinstance(error, PermanentJobError)
        try:
            async with self._database.sessionmaker() as session:
                job = await queue.record_failure(
                    session, job_id, error, attempt=attempt, give_up=permanent
                )
        except Exception as unrecorded:
            # Raised out of the job's task, it was an exception nobody retrieved, in asyncio's
            # words. The claim stands: the job is retried once its lease runs out.
            log.warning(
                "job_failure_not_recorded",
                error=type(error).__name__,
                record_error=type(unrecorded).__name__,
            )
            return ABANDONED
        final = job is not None and job.status == queue.FAILED
        # Why it can never succeed is for whoever is alerted, not only for the failed row.
        why = (
            {"reason": queue.error_text(error, with_type=False), "permanent": True}
            if permanent
            else {}
        )
        log.warning(
            "job_failed",
            error=type(error).__name__,
            attempts=job and job.attempts,
            final=final,
            **why,
        )
        if job is None:  # claimed again by another worker: its run decides
            return ABANDONED
        return FAILED if final else RETRIED


def install_signal_handlers(worker: Worker) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, worker.stop)
