"""A job queue in the service's own database (ARCH-3): a transactional outbox with a worker.

`enqueue()` adds the job to the caller's session, so the job commits or rolls back with the
business write: a job is never lost, and never runs for a write that did not happen. Workers
claim due jobs in one statement (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so replicas never take
the same job; SQLite serialises writers by itself), hold them under a lease, and delete them in
the same transaction as the handler's writes. A failed job is retried later with exponential
backoff and jitter; after `max_attempts` it stays as `failed` for a human to inspect. A worker
that dies mid-job leaves its lease to expire, and another worker retries the job (or, if that
was its last attempt, marks it failed).

Why not a library: procrastinate and pgqueuer are PostgreSQL-only and bring their own driver and
connection, so enqueueing would not share the business transaction on SQLite, or even on the
same asyncpg session; this module is a small layer on the SQLAlchemy session every request
already has.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from .logging import get_logger
from .models import Base, Timestamps, UTCDateTime, UUIDPrimaryKey
from .tracing import trace_carrier
from .url_redaction import redacted_text

QUEUED, RUNNING, FAILED = "queued", "running", "failed"
BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 600.0
ERROR_TEXT_MAX_LENGTH = 2000

_log = get_logger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Job(UUIDPrimaryKey, Timestamps, Base):
    __tablename__ = "jobs"
    __table_args__ = (
        CheckConstraint(f"status IN ('{QUEUED}', '{RUNNING}', '{FAILED}')", name="status_known"),
        CheckConstraint("attempts >= 0 AND attempts <= max_attempts", name="attempts_range"),
        CheckConstraint("length(kind) BETWEEN 1 AND 100", name="kind_length"),
        # The claim query's path: due jobs by time.
        Index("ix_jobs_status_run_after", "status", "run_after"),
    )
    # SQLAlchemy reads this mapping once, at class creation.
    __mapper_args__ = {"eager_defaults": True}  # noqa: RUF012

    kind: Mapped[str] = mapped_column(String(100))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default=QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer)
    run_after: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    # W3C trace context of the enqueuing request, so the worker's span joins its trace (OBS-2).
    trace_context: Mapped[dict[str, str] | None] = mapped_column(JSON)


def enqueue(
    session: AsyncSession, kind: str, payload: dict[str, Any], *, max_attempts: int = 5
) -> Job:
    """Add a job to the caller's transaction; it exists only if that transaction commits."""
    job = Job(
        kind=kind, payload=payload, max_attempts=max_attempts, trace_context=trace_carrier() or None
    )
    session.add(job)
    return job


def backoff_delay(attempts: int, *, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with jitter: uniform in [ceiling/2, ceiling], where the ceiling
    doubles with each attempt (2 s, 4 s, 8 s, ...) up to 10 minutes. The jitter spreads retries
    of jobs that failed together; the lower bound keeps each retry later than the last."""
    ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return timedelta(seconds=(rng or random).uniform(ceiling / 2, ceiling))


ABANDONED_ERROR = "abandoned: its worker stopped during the last attempt and the lease ran out"


async def claim(
    session: AsyncSession, *, limit: int, lease: timedelta, kinds: Collection[str]
) -> Sequence[Job]:
    """Take up to `limit` due jobs of `kinds` (or whose worker's lease ran out); commit the claim.

    A job whose lease ran out during its last attempt has no attempt left to retry it with: it
    is marked failed, for a human to inspect like any other, instead of claimed again (which
    would break the attempts' bound and fail every claim after it). Its worker died on it each
    time (a job that crashes the process, or a hung one), so it is said in a warning.
    Only `kinds` are claimed: a worker without the handler (an older version, during a rolling
    deployment) leaves the job to one that has it, instead of failing its attempts."""
    now = utc_now()
    lease_ran_out = (Job.status == RUNNING) & (Job.locked_until < now)
    abandoned = await session.execute(
        update(Job)
        .where(lease_ran_out & (Job.attempts >= Job.max_attempts))
        .values(status=FAILED, locked_until=None, last_error=ABANDONED_ERROR)
        .returning(Job.id, Job.kind, Job.attempts)
        .execution_options(synchronize_session=False)
    )
    for job_id, kind, attempts in abandoned.all():
        _log.warning("job_abandoned", job_id=str(job_id), job_kind=kind, attempts=attempts)
    due = (
        select(Job.id)
        .where(
            Job.kind.in_(kinds),
            or_(
                (Job.status == QUEUED) & (Job.run_after <= now),
                lease_ran_out & (Job.attempts < Job.max_attempts),
            ),
        )
        .order_by(Job.run_after)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = await session.scalars(
        update(Job)
        .where(Job.id.in_(due.scalar_subquery()))
        .values(status=RUNNING, attempts=Job.attempts + 1, locked_until=now + lease)
        .returning(Job)
        .execution_options(synchronize_session=False)
    )
    jobs = claimed.all()
    await session.commit()
    return jobs


async def extend_leases(
    session: AsyncSession, claims: Mapping[uuid.UUID, int], *, lease: timedelta
) -> set[uuid.UUID]:
    """Extend the leases of the jobs a worker holds, in one UPDATE; commit. `claims` maps each
    job to the attempt its claim made: a job claimed again since (its lease ran out, another
    worker took it), finished or failed is left alone. Returns the jobs whose lease was extended."""
    if not claims:
        return set()
    held = or_(
        *((Job.id == job_id) & (Job.attempts == attempt) for job_id, attempt in claims.items())
    )
    extended = await session.scalars(
        update(Job)
        .where((Job.status == RUNNING) & held)
        .values(locked_until=utc_now() + lease)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    kept = set(extended.all())
    await session.commit()
    return kept


async def complete(session: AsyncSession, job_id: uuid.UUID, *, attempt: int) -> bool:
    """Remove a finished job, in the same transaction as the handler's writes, if the claim that
    made `attempt` still holds it. False when it does not (its lease ran out and another worker
    claimed the job): the caller rolls its writes back, and the other claim's run counts."""
    removed = await session.scalars(
        delete(Job)
        .where((Job.id == job_id) & (Job.status == RUNNING) & (Job.attempts == attempt))
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    return removed.first() is not None


def error_text(error: BaseException, *, with_type: bool = True) -> str:
    """An exception as whoever inspects failed jobs reads it: a URL's credentials left out."""
    text = f"{type(error).__name__}: {error}" if with_type else str(error)
    return redacted_text(text)[:ERROR_TEXT_MAX_LENGTH]


async def record_failure(
    session: AsyncSession,
    job_id: uuid.UUID,
    error: BaseException,
    *,
    attempt: int,
    give_up: bool = False,
) -> Job | None:
    """Schedule a retry with backoff, or give up after the last attempt (or at once with
    `give_up`: a job that can never succeed). Commits.

    Only for the claim that made `attempt`: a worker whose lease ran out mid-job may fail after
    another worker claimed the job again, and must not requeue (or fail) the job under it, which
    would let a third worker run it at the same time. Returns None when the claim is not its."""
    job = await session.get(Job, job_id, with_for_update=True)
    if job is None or job.status != RUNNING or job.attempts != attempt:
        await session.rollback()
        return None
    job.last_error = error_text(error)
    job.locked_until = None
    if give_up or job.attempts >= job.max_attempts:
        job.status = FAILED
    else:
        job.status = QUEUED
        job.run_after = utc_now() + backoff_delay(job.attempts)
    await session.commit()
    return job


async def depth(session: AsyncSession) -> dict[str, int]:
    """How many jobs are in each state (queued, running, failed)."""
    rows = await session.execute(select(Job.status, func.count()).group_by(Job.status))
    counts = {QUEUED: 0, RUNNING: 0, FAILED: 0}
    counts.update(rows.all())
    return counts


async def oldest_due_since(session: AsyncSession) -> datetime | None:
    """Since when the longest-waiting claimable job has been due: a queued job's `run_after`
    once it has passed, or the end of the lease of a running job whose worker stopped extending
    it. None when no job waits. A job waiting out its retry backoff is not due, so this grows
    only while no worker claims what it could (every worker stopped, wedged, or without the
    job's kind): the depth alone cannot tell that from a busy queue."""
    now = utc_now()
    queued = select(func.min(Job.run_after)).where((Job.status == QUEUED) & (Job.run_after <= now))
    lease_ran_out = select(func.min(Job.locked_until)).where(
        (Job.status == RUNNING) & (Job.locked_until < now)
    )
    dues = (
        await session.execute(select(queued.scalar_subquery(), lease_ran_out.scalar_subquery()))
    ).one()
    waiting = [due for due in dues if due is not None]
    return min(waiting) if waiting else None
