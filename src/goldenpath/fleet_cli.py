"""`goldenpath fleet REPO...`: where every service stands, as a table or JSON for dashboards."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from ._cli_support import Subcommands, reports_errors
from .fleet import inspect_fleet, repositories_from, table

EXIT_SOME_FAILED = 1


@reports_errors
def _fleet(args: argparse.Namespace) -> int:
    repositories = repositories_from(args.repositories)
    if not repositories:
        print("goldenpath: error: no repositories given (the list files were empty)")
        return 2
    now = datetime.now(UTC)
    statuses = inspect_fleet(repositories, jobs=args.jobs, with_audit=args.audit)
    if args.format == "json":
        document = {
            "generated_at": now.isoformat(timespec="seconds"),
            "services": [status.to_json(now) for status in statuses],
        }
        print(json.dumps(document, indent=2))
    else:
        print(table(statuses, now))
    return EXIT_SOME_FAILED if any(status.error for status in statuses) else 0


def register(commands: Subcommands) -> None:
    fleet = commands.add_parser(
        "fleet",
        help="per service: template release, how far behind, audit score, clean update or not",
        description="Local clones are only read: each update is tried in a private clone.",
    )
    fleet.add_argument(
        "repositories",
        nargs="+",
        metavar="REPO",
        help="a service's local clone, or a file listing clones one per line",
    )
    fleet.add_argument("--format", choices=("text", "json"), default="text")
    fleet.add_argument("--jobs", type=int, default=2, help="services tried at once (default: 2)")
    fleet.add_argument(
        "--no-audit",
        dest="audit",
        action="store_false",
        help="leave the audit score out (it reads every service's code: seconds per service)",
    )
    fleet.set_defaults(handler=_fleet)
