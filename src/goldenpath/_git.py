"""Running git: the one tool every command here needs, with errors that say what failed."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping
from pathlib import Path


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


def clone(source: str | Path, destination: Path, *, bare: bool = False) -> Path:
    """A private copy (`git clone`), so whatever happens in it never touches `source`."""
    args = ["clone", "--quiet", *(["--bare"] if bare else []), "--", str(source), str(destination)]
    git(destination.parent, *args)
    return destination


def git_path(repository: Path, name: str) -> Path:
    """Where `name` lives inside the repository's git folder (a worktree's own, for a worktree)."""
    found = git(repository, "rev-parse", "--path-format=absolute", "--git-path", name)
    return Path(found.strip())
