"""`goldenpath fleet REPO...`: where every service stands: a table, JSON for dashboards, or one
static HTML page (fleet_html.py)."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

from ._cli_support import Subcommands, reports_errors
from .fleet import inspect_fleet, repositories_from, table
from .fleet_html import page

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
        rendered = json.dumps(document, indent=2) + "\n"
    elif args.format == "html":
        rendered = page(statuses, now)
    else:
        rendered = table(statuses, now) + "\n"
    if args.output:
        args.output.write_text(rendered, encoding="utf-8")
        print(f"goldenpath fleet: {len(statuses)} service(s) written to {args.output}")
    else:
        print(rendered, end="")
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
    fleet.add_argument(
        "--format",
        choices=("text", "json", "html"),
        default="text",
        help="html: one self-contained page, sortable, readable without a server",
    )
    fleet.add_argument("--output", type=Path, metavar="FILE", help="write here, not to stdout")
    fleet.add_argument("--jobs", type=int, default=2, help="services tried at once (default: 2)")
    fleet.add_argument(
        "--no-audit",
        dest="audit",
        action="store_false",
        help="leave the audit score out (it reads every service's code: seconds per service)",
    )
    fleet.set_defaults(handler=_fleet)
