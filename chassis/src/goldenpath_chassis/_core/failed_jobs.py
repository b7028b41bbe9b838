"""Failed jobs, for a human (ARCH-3): list them, and queue them again once the cause is mended.

Never their payloads: a payload may hold personal data, and what lists it ends in a terminal's
scrollback or a CI job's log. A retry is all or nothing: jobs named by id that are not failed
(queued, running, deleted) refuse the whole retry, so a script never half-applies a list.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from .queue import FAILED, QUEUED, Job, utc_now


@dataclass(frozen=True)
class FailedJob:
    id: uuid.UUID
    kind: str
    attempts: int
    failed_at: datetime
    last_error: str | None


class NotFailedError(Exception):
    """Jobs named for a retry that are not failed; nothing was retried."""

    def __init__(self, states: dict[uuid.UUID, str | None]) -> None:
        self.states = states  # None: no such job
        super().__init__(
            "not failed, nothing retried: "
            + ", ".join(f"{job_id} ({state or 'no such job'})" for job_id, state in states.items())
        )


def _failed(kind: str | None) -> ColumnElement[bool]:
    condition = Job.status == FAILED
    return condition if kind is None else condition & (Job.kind == kind)


async def list_failed(
    session: AsyncSession, *, kind: str | None = None, limit: int
) -> tuple[Sequence[FailedJob], int]:
    """The most recently failed jobs first, at most `limit`, and how many failed in all."""
    rows = await session.execute(
        select(Job.id, Job.kind, Job.attempts, Job.updated_at, Job.last_error)
        .where(_failed(kind))
        # UUIDv7 ids: the later one first within the clock's tick (SQLite's is a second).
        .order_by(Job.updated_at.desc(), Job.id.desc())
        .limit(limit)
    )
    total = await session.scalar(select(func.count()).select_from(Job).where(_failed(kind)))
    return [FailedJob(*row) for row in rows.all()], total or 0


async def retry_failed(
    session: AsyncSession, *, ids: Collection[uuid.UUID] = (), kind: str | None = None
) -> Sequence[uuid.UUID]:
    """Queue failed jobs again, due now with their attempts reset. Commits.

    By `ids` (each must be failed, or nothing is retried: NotFailedError), else every failed
    job (of `kind`). Their last error stays, to be read until the next attempt replaces it."""
    chosen = _failed(kind) if not ids else (Job.status == FAILED) & Job.id.in_(ids)
    retried = await session.scalars(
        update(Job)
        .where(chosen)
        .values(status=QUEUED, attempts=0, run_after=utc_now(), locked_until=None)
        .returning(Job.id)
        .execution_options(synchronize_session=False)
    )
    job_ids = retried.all()
    if ids and len(job_ids) != len(set(ids)):
        await session.rollback()
        rows = await session.execute(select(Job.id, Job.status).where(Job.id.in_(ids)))
        states: dict[uuid.UUID, str] = dict(rows.all())
        raise NotFailedError(
            {job_id: states.get(job_id) for job_id in dict.fromkeys(ids) if job_id not in job_ids}
        )
    await session.commit()
    return job_ids
