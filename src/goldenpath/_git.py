"""Running git: the one tool every command here needs, with errors that say what failed."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from ._processes import run_bounded

# How long a clone may take: the template's, from its server, or a service's, from its folder.
CLONE_TIMEOUT = 600.0


class GitError(RuntimeError):
    """A git command failed; the message carries the command, the folder and git's own words."""


def git(
    repository: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    check: bool = True,
    stdin: str | None = None,
) -> str:
    """Run `git ARGS` in `repository` (with `stdin` as its input) and return its stdout (decoded,
    untouched)."""
    completed = subprocess.run(
        ["git", *args],
        cwd=repository,
        env=None if env is None else dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if check and completed.returncode != 0:
        raise GitError(
            f"`git {' '.join(args)}` failed in {repository}: "
            f"{completed.stderr.strip() or completed.stdout.strip()}"
        )
    return completed.stdout


def is_clean(repository: Path) -> bool:
    """No staged, unstaged or untracked (not ignored) change: what `copier update` requires."""
    return not git(repository, "status", "--porcelain", "--untracked-files=normal").strip()


def head(repository: Path) -> str:
    """The commit checked out; a repository without one is an error that says so."""
    commit = git(repository, "rev-parse", "--verify", "--quiet", "HEAD", check=False).strip()
    if not commit:
        git(repository, "rev-parse", "--git-dir")  # not a repository at all: git's own words
        raise GitError(f"{repository} has no commit yet: commit the generated service first")
    return commit


def clone(
    source: str | Path, destination: Path, *, bare: bool = False, timeout: float = CLONE_TIMEOUT
) -> Path:
    """A private copy (`git clone`), so whatever happens in it never touches `source`. A clone
    that runs over `timeout` seconds (a server that never answers) is stopped, with the
    transport helper it started, and is a GitError that says so."""
    args = ["clone", "--quiet", *(["--bare"] if bare else []), "--", str(source), str(destination)]
    try:
        completed = run_bounded(
            ["git", *args], cwd=destination.parent, env=os.environ, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise GitError(
            f"`git clone {source}` did not finish within {timeout:g} s (a server that does not "
            "answer?), so it was stopped with every process it started"
        ) from None
    if completed.returncode != 0:
        raise GitError(
            f"`git {' '.join(args)}` failed in {destination.parent}: "
            f"{completed.stderr.strip() or completed.stdout.strip()}"
        )
    return destination


def git_path(repository: Path, name: str) -> Path:
    """Where `name` lives inside the repository's git folder (a worktree's own, for a worktree)."""
    found = git(repository, "rev-parse", "--path-format=absolute", "--git-path", name)
    return Path(found.strip())
