"""Runs once after every `copier update`, in the project itself (an unversioned migration).

A release may change `pyproject.toml` and the chassis; a service on a local template clone gets
the new release's chassis wheel first (chassis_wheel.py). Re-locking keeps `uv sync --locked`
(and CI) working without a manual step. `uv lock` keeps every existing pin that still
satisfies the new constraints, so the lock file changes only where the template's dependencies
did. Copier runs
migrations in the real project only, never in the replays of the old and new template versions
it renders to compute the update.
"""

from __future__ import annotations

import sys
from pathlib import Path

from chassis_wheel import build_chassis_wheel
from post_copy import lock_dependencies


def main() -> int:
    build_chassis_wheel(Path.cwd())
    failure = lock_dependencies(Path.cwd())
    if failure is None:
        print("post-update: dependencies re-locked", file=sys.stderr)
    else:
        # The update itself is done and its diff is what the team reviews next: a lock that
        # could not be made is said, not a failed update.
        print(
            f"post-update: WARNING: {failure}; run `uv lock` once the package index is reachable",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
