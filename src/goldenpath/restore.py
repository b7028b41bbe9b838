"""Putting a service back as it was after `update-branch` failed on it, or saying it could not.

A git process killed with SIGKILL (the update's own timeout after its grace, the OOM killer, a
cancelled job) leaves `index.lock` behind, and git then refuses to touch the index or the
working tree: undoing the update with it in place would fail step by step, and `git clean`,
which needs no lock, would still remove the update's new files, leaving a mix of both. git's
lock names no owner, so it cannot be told from the lock of a git that runs now (an editor's
background `git status`); removing that one corrupts the index. So the lock is never removed
here: the service is left as the update left it, and the error says where it is and what to run.
"""

from __future__ import annotations

from pathlib import Path

from ._git import GitError, git, git_path


class NotRestoredError(RuntimeError):
    """The service could not be put back; the message says the state it is in and what to run."""


def restore(project: Path, base: str, branch: str) -> None:
    """`project` back at `base`, on `branch` ("": a detached HEAD), without the update's changes;
    else a NotRestoredError naming its state (and the lock, when git's index is locked)."""
    lock = git_path(project, "index.lock")
    failures = []
    if not lock.exists():  # with it every step but the clean fails: nothing is tried
        back = ["switch", "--quiet", branch] if branch else ["switch", "--quiet", "--detach", base]
        for step in (["reset", "--quiet", "--hard", base], ["clean", "-fdq"], back):
            try:
                git(project, *step)
            except GitError as error:
                failures.append(str(error))
    left_on, left_at, changed = _state(project)
    if (left_on, left_at, changed) == (branch, base, 0) and not failures:
        return
    was = f"branch {branch!r}" if branch else "a detached HEAD"
    now = f"branch {left_on!r}" if left_on else "a detached HEAD"
    where = (
        f"{project} is left on {now} at {left_at} with {changed} changed path(s) (`git status`); "
        f"it was on {was} at {base}, clean."
    )
    to_run = f"git reset --hard {base} && git clean -fd && " + (
        f"git switch {branch}" if branch else f"git switch --detach {base}"
    )
    if lock.exists():
        raise NotRestoredError(
            f"The service was NOT put back as it was: {lock} exists, so git can change neither "
            "its index nor its working tree. A git process was killed while it held the lock "
            "(SIGKILL: the update's timeout after its grace, the OOM killer, a cancelled job), "
            "or one runs in this repository now; the lock was left in place, since removing a "
            f"running git's lock corrupts the index. {where} Once no git process runs there, "
            f"remove {lock} and run: {to_run}"
        )
    said = "".join(f"\n  {failure}" for failure in failures)
    raise NotRestoredError(
        f"The service was NOT put back as it was. {where} To undo the update, run: {to_run}"
        + (f"\ngit said:{said}" if said else "")
    )


def _state(project: Path) -> tuple[str, str, int]:
    """The branch checked out ("" when detached), its commit, and how many paths differ
    (`git status` reads the index without its lock)."""
    branch = git(project, "branch", "--show-current").strip()
    commit = git(project, "rev-parse", "HEAD").strip()
    status = git(project, "status", "--porcelain", "--untracked-files=normal")
    return branch, commit, len(status.splitlines())
