"""The worker's heartbeat (ARCH-3): the leases of the jobs in hand, kept while they run.

A lease is short (`JOB_LEASE_SECONDS`), so the jobs of a worker that died are retried by another
within about a lease; a worker that lives extends the leases of all its jobs in one UPDATE every
third of a lease. The UPDATE is for the claims the worker made (the job and its attempt): a job
claimed again by another worker is never extended by this one.

A handler runs only while its job's lease is known to hold, or another worker may be running
it too: it is cancelled a margin before the lease last extended runs out (the database
unreachable for most of a lease), at once when the heartbeat finds the claim is no longer the
worker's, and at the end of its run time (`JOB_MAX_RUN_SECONDS`). Each is a failed attempt.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from . import queue
from .database import Database
from .logging import get_logger
from .repeated_failure_line import RepeatedFailureLine

# A handler ends this long before its lease (a third of it, at most a second): time to record
# the failed attempt while the claim is still the worker's.
LEASE_MARGIN_SECONDS = 1.0
BEATS_PER_LEASE = 3
HEARTBEAT_TASK_NAME = "job-lease-heartbeat"

_log = get_logger(__name__)


class JobRunTimeExceededError(Exception):
    """The handler was cancelled at the end of its run time (`JOB_MAX_RUN_SECONDS`)."""


class JobLeaseLostError(Exception):
    """The handler was cancelled because its job's lease could not be kept."""


class HeldJob:
    """A job in hand: when its lease and its run time end, on the event loop's clock."""

    def __init__(
        self, attempt: int, *, lease_ends: float, run_seconds: float, margin: float
    ) -> None:
        self.attempt = attempt
        self._lease_ends = lease_ends
        self._run_seconds = run_seconds
        self._run_ends = asyncio.get_running_loop().time() + run_seconds
        self._margin = margin
        self._lost = False
        self._timeout: asyncio.Timeout | None = None

    def _deadline(self) -> float:
        return min(self._run_ends, self._lease_ends - self._margin)

    def lease_extended(self, lease_ends: float) -> None:
        self._lease_ends = lease_ends
        self._reschedule(self._deadline())

    def claim_lost(self) -> None:
        self._lost = True
        self._reschedule(asyncio.get_running_loop().time())

    def _reschedule(self, deadline: float) -> None:
        # Not once it has expired: the handler is being cancelled already.
        if self._timeout is not None and not self._timeout.expired():
            self._timeout.reschedule(deadline)

    async def run(self, work: Awaitable[None]) -> None:
        """Await the handler's work, cancelled when its lease or its run time ends."""
        timeout = asyncio.timeout_at(self._deadline())
        self._timeout = timeout
        try:
            async with timeout:
                await work
        except TimeoutError as error:
            if not timeout.expired():
                raise  # the handler's own
            raise self._why_cut_off() from error
        finally:
            self._timeout = None

    def _why_cut_off(self) -> Exception:
        if self._lost:
            return JobLeaseLostError("its claim was lost: another worker claimed the job again")
        if self._run_ends <= self._lease_ends - self._margin:
            return JobRunTimeExceededError(
                f"ran past its run time limit of {self._run_seconds:g} s (JOB_MAX_RUN_SECONDS)"
            )
        return JobLeaseLostError("its lease could not be extended before it ran out")


class LeaseKeeper:
    def __init__(self, database: Database, lease: timedelta, *, max_run_seconds: float) -> None:
        self._database = database
        self._lease = lease
        self._max_run_seconds = max_run_seconds
        self._margin = min(LEASE_MARGIN_SECONDS, lease.total_seconds() / BEATS_PER_LEASE)
        self._held: dict[uuid.UUID, HeldJob] = {}
        self._failing = RepeatedFailureLine(
            _log, "job_lease_extension_failed", recovered_event="job_lease_extension_recovered"
        )

    @contextmanager
    def holding(self, job_id: uuid.UUID, attempt: int, lease_ends: float) -> Iterator[HeldJob]:
        """The job in hand from now until the block ends: its lease kept, its run time on."""
        job = HeldJob(
            attempt, lease_ends=lease_ends, run_seconds=self._max_run_seconds, margin=self._margin
        )
        self._held[job_id] = job
        try:
            yield job
        finally:
            del self._held[job_id]

    async def keep(self) -> None:
        """Extend the leases every third of a lease, until cancelled."""
        while True:
            await asyncio.sleep(self._lease.total_seconds() / BEATS_PER_LEASE)
            await self.extend()

    async def extend(self) -> None:
        held = dict(self._held)
        if not held:
            return
        loop = asyncio.get_running_loop()
        # Before the UPDATE, so never later than the lease it writes.
        lease_ends = loop.time() + self._lease.total_seconds()
        try:
            async with self._database.sessionmaker() as session:
                extended = await queue.extend_leases(
                    session,
                    {job_id: job.attempt for job_id, job in held.items()},
                    lease=self._lease,
                )
        except Exception as error:
            self._failing.failed(error)
            return
        self._failing.succeeded()
        for job_id, job in held.items():
            if job_id in extended:
                job.lease_extended(lease_ends)
            elif self._held.get(job_id) is job:  # not one that ended during the UPDATE
                job.claim_lost()
