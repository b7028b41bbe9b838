"""ARCH-3: failed jobs are listed and queued again by a command, never with SQL by hand.

`python -m <package> jobs list-failed|retry`, run as an operator runs it, on jobs a real worker
failed. Their payloads hold personal data, which no output may show.
"""

from __future__ import annotations

import subprocess
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from goldenpath_chassis import chassis_of
from goldenpath_chassis._core import queue
from goldenpath_chassis._core.database import Database
from goldenpath_chassis._core.queue import Job
from goldenpath_chassis._core.worker import Worker
from goldenpath_chassis.jobs import PermanentJobError

from tests.support.example_command import example_command

pytestmark = pytest.mark.integration

PERSONAL = "jane.doe@example.org"


def jobs_command(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return example_command(database_url, "jobs", *args)


async def reshaped(_: Any, payload: dict[str, Any]) -> None:
    # A line break and a tab in the error: its listing must stay one line of five columns.
    raise PermanentJobError(f"no 'widget_id' in the payload;\n\tits keys: {sorted(payload)}")


async def fail_one(database: Database, kind: str) -> uuid.UUID:
    """A job of `kind` with personal data in its payload, failed by a real worker."""
    async with database.sessionmaker() as session:
        job = queue.enqueue(session, kind, {"email": PERSONAL})
        await session.commit()
    assert await Worker(database, {kind: reshaped}).run_once() == 1
    return job.id


async def states(database: Database) -> dict[uuid.UUID, tuple[str, int]]:
    async with database.sessionmaker() as session:
        rows = await session.execute(select(Job.id, Job.status, Job.attempts))
    return {job_id: (status, attempts) for job_id, status, attempts in rows.all()}


@pytest.fixture
def database(app: FastAPI) -> Database:
    return chassis_of(app).resources.database


async def test_arch3_list_failed_prints_one_line_per_failed_job_and_never_a_payload(
    database: Database, database_url: str
) -> None:
    first, second, third = [await fail_one(database, kind) for kind in ("mail", "export", "mail")]
    async with database.sessionmaker() as session:
        queue.enqueue(session, "mail", {"email": PERSONAL})  # queued: not listed
        await session.commit()

    listed = jobs_command(database_url, "list-failed")
    assert listed.returncode == 0, listed.stderr
    assert PERSONAL not in listed.stdout + listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    error = "PermanentJobError: no 'widget_id' in the payload;\\n\\tits keys: ['email']"
    assert [(row[0], row[1], row[2], row[4]) for row in rows] == [  # the latest first
        (str(third), "mail", "1", error),
        (str(second), "export", "1", error),
        (str(first), "mail", "1", error),
    ]
    for row in rows:
        failed_at = datetime.strptime(row[3], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert abs((datetime.now(UTC) - failed_at).total_seconds()) < 60
    assert listed.stderr == ""

    mail = jobs_command(database_url, "list-failed", "--kind", "mail", "--limit", "1")
    assert mail.returncode == 0, mail.stderr
    assert [line.split("\t")[0] for line in mail.stdout.splitlines()] == [str(third)]
    assert mail.stderr == "jobs: the 1 latest of 2 failed jobs (--limit)\n"


async def test_arch3_list_failed_escapes_escape_sequences_and_bidirectional_overrides(
    database: Database, database_url: str
) -> None:
    """An error may quote what a client sent: ESC's sequences must not reach the operator's
    terminal, nor a line separator (a line for `str.splitlines`) or a right-to-left override
    change how the row reads."""

    async def quoting(_: Any, payload: dict[str, Any]) -> None:
        raise PermanentJobError("bad name \x1b]0;owned\x07 \u202egnp.exe\u2028next")

    async with database.sessionmaker() as session:
        job = queue.enqueue(session, "quote", {"email": PERSONAL})
        await session.commit()
    assert await Worker(database, {"quote": quoting}).run_once() == 1

    listed = jobs_command(database_url, "list-failed")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert [(row[0], row[4]) for row in rows] == [
        (str(job.id), "PermanentJobError: bad name \\x1b]0;owned\\x07 \\u202egnp.exe\\u2028next")
    ]


async def test_arch3_retry_queues_failed_jobs_again_and_refuses_one_not_failed(
    database: Database, database_url: str
) -> None:
    failed, other = await fail_one(database, "mail"), await fail_one(database, "mail")
    async with database.sessionmaker() as session:
        queued = queue.enqueue(session, "mail", {"email": PERSONAL})
        await session.commit()
    unknown = uuid.uuid4()

    refused = jobs_command(database_url, "retry", str(failed), str(queued.id), str(unknown))
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert refused.stderr == (
        f"jobs: not failed, nothing retried: {queued.id} (queued), {unknown} (no such job)\n"
    )
    before = await states(database)
    assert before[failed] == before[other] == ("failed", 1)  # the failed one too: all or nothing

    retried = jobs_command(database_url, "retry", str(failed))
    assert retried.returncode == 0, retried.stderr
    assert retried.stdout == f"{failed}\n"
    assert retried.stderr == "jobs: 1 failed job queued again, their attempts reset\n"
    assert (await states(database))[failed] == ("queued", 0)
    assert (await states(database))[other] == ("failed", 1)

    ran: list[str] = []

    async def mended(_: Any, payload: dict[str, Any]) -> None:
        ran.append(payload["email"])

    # Due at once: the mended handler runs it (and the job queued all along).
    assert await Worker(database, {"mail": mended}).run_once() == 2
    assert ran == [PERSONAL, PERSONAL]
    assert await states(database) == {other: ("failed", 1)}


async def test_arch3_retry_all_of_a_kind_leaves_the_other_kinds_failed(
    database: Database, database_url: str
) -> None:
    mails = {await fail_one(database, "mail"), await fail_one(database, "mail")}
    export = await fail_one(database, "export")

    retried = jobs_command(database_url, "retry", "--kind", "mail", "--all")
    assert retried.returncode == 0, retried.stderr
    assert set(retried.stdout.split()) == {str(job_id) for job_id in mails}
    assert retried.stderr == "jobs: 2 failed jobs queued again, their attempts reset\n"
    assert await states(database) == {
        **dict.fromkeys(mails, ("queued", 0)),
        export: ("failed", 1),
    }
    # Without --all, --kind alone is refused: it would retry every failed job of the kind.
    alone = jobs_command(database_url, "retry", "--kind", "export")
    assert alone.returncode == 2
    assert "add --all" in alone.stderr
    assert (await states(database))[export] == ("failed", 1)
