"""`python -m <package> jobs list-failed|retry`: inspect failed jobs and queue them again (ARCH-3).

Written for scripts as for people, like `api-keys list`: stdout holds the result only, one job
a line in tab-separated columns that keep their order (new ones are added at the end), each
value on one line, its control characters escaped (`terminal_text.one_line`); what a person
reads goes to stderr. A payload is never printed (it may hold personal data).
"""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import TYPE_CHECKING

from .command_database import command_session, run_on_database
from .settings import ChassisSettings
from .terminal_text import one_line

if TYPE_CHECKING:
    from .domain import Subcommands
    from .service import Service

DEFAULT_LIMIT = 100


async def _list_failed(args: argparse.Namespace, settings: ChassisSettings) -> int:
    from .failed_jobs import list_failed  # noqa: PLC0415

    async with command_session(settings, args.service) as session:
        jobs, total = await list_failed(session, kind=args.kind, limit=args.limit)
    for job in jobs:
        print(
            f"{job.id}\t{one_line(job.kind)}\t{job.attempts}\t"
            f"{job.failed_at:%Y-%m-%dT%H:%M:%SZ}\t{one_line(job.last_error or '-')}"
        )
    if total > len(jobs):
        print(f"jobs: the {len(jobs)} latest of {total} failed jobs (--limit)", file=sys.stderr)
    return 0


async def _retry(args: argparse.Namespace, settings: ChassisSettings) -> int:
    from .failed_jobs import retry_failed  # noqa: PLC0415

    async with command_session(settings, args.service) as session:
        retried = await retry_failed(session, ids=args.ids, kind=args.kind)
    for job_id in retried:
        print(job_id)
    print(
        f"jobs: {len(retried)} failed job{'' if len(retried) == 1 else 's'} queued again, "
        "their attempts reset",
        file=sys.stderr,
    )
    return 0


def _run(args: argparse.Namespace, settings: ChassisSettings) -> int:
    from .failed_jobs import NotFailedError  # noqa: PLC0415

    if args.action is _retry and bool(args.ids) == (args.all or args.kind is not None):
        args.parser.error("name failed jobs by ID, or choose them with --all (and --kind)")
    if args.action is _retry and args.kind is not None and not args.all:
        args.parser.error("--kind retries every failed job of the kind: add --all")
    return run_on_database(
        "jobs", args.action(args, settings), args.service, refused=NotFailedError
    )


def _job_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise argparse.ArgumentTypeError("not a job id (a UUID, as list-failed prints)") from None


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError("a whole number of at least 1")
    return int(text)


def register_job_commands(commands: Subcommands, service: Service) -> None:
    parser = commands.add_parser("jobs", help="list failed background jobs and retry them")
    actions = parser.add_subparsers(dest="jobs_action", metavar="ACTION", required=True)

    listing = actions.add_parser(
        "list-failed",
        help="list failed jobs, the latest first (never their payloads)",
        description="One job a line, tab-separated: id, kind, attempts, failed at (UTC), "
        "last error (control and formatting characters escaped). Example: "
        f"python -m {service.package} jobs list-failed --kind KIND | cut -f1",
    )
    listing.add_argument("--kind", help="only jobs of this kind")
    listing.add_argument(
        "--limit", type=_positive, default=DEFAULT_LIMIT,
        help=f"at most this many (default {DEFAULT_LIMIT}); stderr says when more failed",
    )  # fmt: skip
    listing.set_defaults(handler=_run, action=_list_failed, parser=listing)

    retry = actions.add_parser(
        "retry",
        help="queue failed jobs again, their attempts reset",
        description="Queues the failed jobs named, or with --all every failed job (of --kind), "
        "due at once with their attempts reset; prints their ids. A job named that is not "
        "failed refuses the whole retry: nothing changes.",
    )
    retry.add_argument("ids", nargs="*", type=_job_id, metavar="ID", help="a failed job's id")
    retry.add_argument("--kind", help="with --all: only the failed jobs of this kind")
    retry.add_argument("--all", action="store_true", help="every failed job (of --kind)")
    retry.set_defaults(handler=_run, action=_retry, parser=retry)
