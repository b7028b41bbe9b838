"""Post-copy task: make a freshly generated service ready to use.

Copier runs this once, after `copier copy` (never during `copier update`, see `_tasks` in
copier.yml). It only uses the standard library, because it runs with the interpreter Copier runs
with, before the project has an environment of its own.

Steps, each skipped with a clear warning when its tool is missing, so that generation never fails
half-way on a machine without git or uv:
1. `git init` (unless the destination is already in a work tree), so `copier update` works later;
2. a template copied from a relative path (`copier copy . ../svc`) is recorded by its absolute
   path instead, so `copier update` and the goldenpath tools find it later (`answers_path.py`);
3. when the service takes goldenpath-chassis from a local clone of the template, build that
   clone's chassis wheel into the service's `.chassis/` folder (see `chassis_wheel.py`);
4. `uv lock`, so the first `uv sync` and CI install exactly the same, reviewed versions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from answers_path import pin_template_path
from chassis_wheel import build_chassis_wheel


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


def lock_dependencies(project: Path) -> bool:
    """`uv lock`; on failure warn and carry on, because the project itself is complete."""
    uv = _uv()
    if uv is None:
        _warn("uv is not installed (https://docs.astral.sh/uv/); run `uv lock` in the project.")
        return False
    result = subprocess.run([uv, "lock", "--quiet"], cwd=project, check=False)
    if result.returncode != 0:
        _warn("`uv lock` failed (see above); the project is complete, run `uv lock` again later.")
        return False
    return True


def main() -> int:
    project = Path.cwd()
    init_git(project)
    pin_template_path(project)
    build_chassis_wheel(project)
    lock_dependencies(project)
    # The template's tests look for this line to prove the task never runs during updates.
    print("post-copy: done", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
