"""TPL-2: `goldenpath update-branch` that fails puts the service back as it was, or says loudly
that it did not, where the service is left and what to run; never a quiet half-update.

A git process killed with SIGKILL leaves `.git/index.lock`, and git then refuses to reset or
switch: the undo failed step by step, unchecked, `git clean` alone went through, and the
service was left on the update's branch with half its changes under the update's own error.
Here a real template's task starts a real git that takes the index lock and kills it with
SIGKILL, as a timeout's SIGKILL after its grace does; real `copier update` runs.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest

from goldenpath.cli import main
from tests.test_update_branch_failures import state
from tests.test_update_tools import commit, git, repository
from tests.test_update_trust import service_of


def template_whose_task(path: Path, task: str) -> Path:
    """Releases v0.1.0 and v0.2.0; v0.2.0 changes the README, adds a file and runs `task`."""
    template = repository(path)
    (template / "project").mkdir()
    for release in ("v0.1.0", "v0.2.0"):
        tasks = f"_tasks:\n  - [sh, -c, {json.dumps(task)}]\n" if release == "v0.2.0" else ""
        (template / "copier.yml").write_text(f"_subdirectory: project\n{tasks}")
        (template / "project" / "README.md").write_text(f"{release}\n")
        if release == "v0.2.0":
            (template / "project" / "CHANGES.md").write_text("new in v0.2.0\n")
        commit(template, release)
        git(template, "tag", release)
    return template


def killing_git(service: Path) -> str:
    """A task that, in `service`, starts `git update-index --stdin` (which holds the index lock
    while it reads), kills it with SIGKILL once the lock is there, and fails."""
    lock = shlex.quote(str(service / ".git" / "index.lock"))
    return (
        # The sleep's stderr elsewhere: left holding Copier's, it would hold the update open.
        f"cd {shlex.quote(str(service))}; "
        "sleep 600 2>/dev/null | git update-index --stdin & git_pid=$!; "
        f"while [ ! -e {lock} ]; do sleep 0.01; done; kill -KILL $git_pid; exit 1"
    )


def test_tpl2_a_stale_index_lock_fails_the_update_loudly_and_is_left_in_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = tmp_path / "orders"
    template = template_whose_task(tmp_path / "template", killing_git(service))
    service_of(service, template)
    before = state(service)
    lock = service / ".git" / "index.lock"

    arguments = ["update-branch", str(service), "--gates=none", f"--pr-body={tmp_path / 'pr.md'}"]
    assert main(arguments) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    error = captured.err
    assert error.startswith(
        f"goldenpath update-branch: error: `copier update` failed in {service}:"
    )
    branch, commit_, changes, _ = state(service)
    assert (branch, commit_) == ("template-update", before[1])  # what the error must say
    assert changes  # the update's unfinished changes
    said = error.rpartition("\n\n")[2]
    assert said.startswith(f"The service was NOT put back as it was: {lock} exists")
    assert (
        f"{service} is left on branch 'template-update' at {before[1]} with "
        f"{len(changes.splitlines())} changed path(s)" in said
    )
    assert f"it was on branch 'main' at {before[1]}, clean." in said
    assert lock.exists(), "a lock git may still hold was removed"

    # What it says to run, once no git runs, puts the service back.
    lock.unlink()
    to_run = said.rpartition("and run: ")[2].strip()
    for command in to_run.split(" && "):
        git(service, *shlex.split(command)[1:])
    assert state(service)[:3] == before[:3]


def test_tpl2_a_failed_update_from_a_detached_head_goes_back_to_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # As a CI checkout of a pull request leaves it. `git switch -` refuses a commit without
    # --detach, and that failure went unchecked: the service stayed on the update's branch.
    service = tmp_path / "orders"
    template = template_whose_task(tmp_path / "template", "exit 1")
    service_of(service, template)
    git(service, "switch", "--quiet", "--detach")
    before = state(service)

    arguments = ["update-branch", str(service), "--gates=none", f"--pr-body={tmp_path / 'pr.md'}"]
    assert main(arguments) == 2
    error = capsys.readouterr().err
    assert error.startswith(
        f"goldenpath update-branch: error: `copier update` failed in {service}:"
    )
    assert "NOT put back" not in error
    assert state(service)[:3] == before[:3]  # detached, at its commit, a clean tree
