"""`goldenpath fleet REPO...`: where every service stands: a table, JSON for dashboards, or one
static HTML page (fleet_html.py)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from ._cli_support import Subcommands, add_update_timeout, reports_errors
from .fleet import RepositoryListError, inspect_fleet, repositories_from, table
from .fleet_cache import OutcomeCache, default_folder
from .fleet_html import page

EXIT_SOME_FAILED = 1


@reports_errors
def _fleet(args: argparse.Namespace) -> int:
    try:
        repositories = repositories_from(args.repositories)
    except RepositoryListError as error:
        print(f"{args.prog}: error: {error}", file=sys.stderr)
        return 2
    if not repositories:
        print(
            f"{args.prog}: error: no repositories given (the list files were empty)",
            file=sys.stderr,
        )
        return 2
    cache = None if args.no_cache else OutcomeCache(args.cache_dir or default_folder())
    now = datetime.now(UTC)
    statuses = inspect_fleet(
        repositories,
        trusted=args.templates,
        jobs=args.jobs,
        with_audit=args.audit,
        cache=cache,
        update_timeout=args.update_timeout,
    )
    if cache is not None and cache.hits:
        # On stderr: stdout may be the JSON a dashboard reads.
        print(
            f"goldenpath fleet: {cache.hits} update outcome(s) reused from {cache.folder} "
            "(same service commit, release and tool; --no-cache tries every update)",
            file=sys.stderr,
        )
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
        "--template",
        dest="templates",
        action="append",
        required=True,
        metavar="SOURCE",
        help="a template your services may name in `_src_path` (repeat for more); a service "
        "naming another is not tried: Copier would run that template's tasks",
    )
    fleet.add_argument(
        "--format",
        choices=("text", "json", "html"),
        default="text",
        help="html: one self-contained page, sortable, readable without a server",
    )
    fleet.add_argument("--output", type=Path, metavar="FILE", help="write here, not to stdout")
    fleet.add_argument("--jobs", type=int, default=2, help="services tried at once (default: 2)")
    add_update_timeout(fleet)
    fleet.add_argument(
        "--no-audit",
        dest="audit",
        action="store_false",
        help="leave the audit score out (it reads every service's code: seconds per service)",
    )
    fleet.add_argument(
        "--cache-dir",
        type=Path,
        metavar="DIR",
        help="where update outcomes are kept across runs "
        "(default: $GOLDENPATH_CACHE_DIR, else goldenpath/fleet in $XDG_CACHE_HOME or ~/.cache)",
    )
    fleet.add_argument(
        "--no-cache",
        action="store_true",
        help="try every update, even one an earlier run tried at the same commits",
    )
    fleet.set_defaults(handler=_fleet)
