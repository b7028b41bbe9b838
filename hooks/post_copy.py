"""Post-copy task: make a freshly generated service ready to use.

Copier runs this once, after `copier copy` (never during `copier update`, see `_tasks` in
copier.yml). It only uses the standard library, because it runs with the interpreter Copier runs
with, before the project has an environment of its own.

Steps:
1. `git init` (unless the destination is already in a work tree), so `copier update` works later;
2. a template copied from a relative path (`copier copy . ../svc`) is recorded by its absolute
   path instead, so `copier update` and the goldenpath tools find it later (`answers_path.py`);
3. when the service takes goldenpath-chassis from a local clone of the template, build that
   clone's chassis wheel into the service's `.chassis/` folder (see `chassis_wheel.py`);
4. `uv lock`, so the first `uv sync` and CI install exactly the same, reviewed versions.

A missing git or a failed wheel build only warns: the lock step says what is left to do. A
service without `uv.lock` is not ready (its CI runs `uv sync --locked`), so a failed `uv lock`
ends the task with exit status 1 and one line saying how to finish by hand: `copier copy` then
exits non-zero, and a script that generates services can tell. Copier deletes a destination it
created when a task fails, unless run with `--no-cleanup` (the first argument, `--cleanup=True`
or `--cleanup=False`, says which), and the line says what to do in each case.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from answers_path import pin_template_path
from chassis_wheel import build_chassis_wheel, wanted_wheel


def _warn(message: str) -> None:
    print(f"post-copy: WARNING: {message}", file=sys.stderr)


def _inside_work_tree(project: Path) -> bool:
    result = subprocess.run(
        ["git", "rev-parse", "--is-inside-work-tree"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0 and result.stdout.strip() == "true"


def init_git(project: Path) -> None:
    if shutil.which("git") is None:
        _warn("git is not installed; run `git init` before your first `copier update`.")
        return
    if _inside_work_tree(project):
        return
    subprocess.run(["git", "init", "--quiet", "--initial-branch=main"], cwd=project, check=True)


def _uv() -> str | None:
    # `uv run` exports the path of the running uv; prefer it to whatever PATH finds first.
    return os.environ.get("UV") or shutil.which("uv")


def lock_dependencies(project: Path) -> str | None:
    """`uv lock`; what went wrong if it could not run or failed, else None."""
    uv = _uv()
    if uv is None:
        return "uv is not installed (https://docs.astral.sh/uv/), so the service has no uv.lock"
    result = subprocess.run([uv, "lock", "--quiet"], cwd=project, check=False)
    if result.returncode != 0:
        return "`uv lock` failed (see above), so the service has no uv.lock"
    return None


def unfinished(project: Path, failure: str, *, wheel_missing: bool, cleanup: bool) -> str:
    """The one error line for a service left without a lock file: what failed, how to finish."""
    # The refresh script builds the wheel from the clone in .chassis/SOURCE, then locks.
    finish = "python3 .github/scripts/chassis_source.py refresh" if wheel_missing else "uv lock"
    if cleanup:
        how = (
            "Copier removes the folder it created: run the same `copier copy` again once the "
            f"package index is reachable, or add --no-cleanup and run `{finish}` in {project}"
        )
    else:
        how = f"the files are kept: run `{finish}` in {project} once the package index is reachable"
    return f"post-copy: error: {failure}; {how}."


def main(argv: list[str]) -> int:
    cleanup = "--cleanup=False" not in argv
    project = Path.cwd()
    init_git(project)
    pin_template_path(project)
    wheel_missing = wanted_wheel(project) is not None and not build_chassis_wheel(project)
    failure = lock_dependencies(project)
    if failure is not None:
        message = unfinished(project, failure, wheel_missing=wheel_missing, cleanup=cleanup)
        print(message, file=sys.stderr)
        return 1
    # The template's tests look for this line to prove the task never runs during updates.
    print("post-copy: done", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
