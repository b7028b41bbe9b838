"""Throwaway copies of this template repository in which tests cut releases and update projects.

A copy is a fresh git repository holding the working tree as it is now (uncommitted changes
included), so the tests prove what is about to be committed, on any clone, shallow or not.
Releases are semver tags, as in the real repository (see CHANGELOG.md).
"""

from __future__ import annotations

import re
import shutil
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from packaging.version import Version

from .commands import BYTECODE_CACHED, REPOSITORY, run

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "template-tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "template-tests@example.com",
}
CHANGELOG_VERSION = re.compile(r"^## \[(\d+\.\d+\.\d+)\]", re.MULTILINE)
CONFLICT_MARKERS = ("<<<<<<< ", ">>>>>>> ")


def git(repository: Path, *args: str) -> str:
    return run(["git", *args], cwd=repository, env=GIT_IDENTITY).stdout


def copy_committed(template: Path, destination: Path, *, ref: str, data: Sequence[str]) -> Path:
    """`copier copy` of the template at `ref` (`--data` items), made a git repository with one
    commit, as a team starts a service."""
    run(
        [
            sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--quiet",
            f"--vcs-ref={ref}", *(f"--data={item}" for item in data), str(template),
            str(destination),
        ],
        cwd=template,
    )  # fmt: skip
    git(destination, "init", "--quiet", "--initial-branch=main")
    git(destination, "add", "--all")
    git(destination, "commit", "--quiet", "-m", "generated")
    return destination


def working_tree_version() -> Version:
    """The release the working tree is: the newest in CHANGELOG.md or in `_migrations`."""
    changelog = (REPOSITORY / "CHANGELOG.md").read_text()
    versions = [Version(found) for found in CHANGELOG_VERSION.findall(changelog)]
    config = yaml.safe_load((REPOSITORY / "copier.yml").read_text())
    versions += [
        Version(migration["version"])
        for migration in config.get("_migrations", [])
        if isinstance(migration, dict) and "version" in migration
    ]
    return max(versions)


def next_patch(version: Version) -> Version:
    return Version(f"{version.major}.{version.minor}.{version.micro + 1}")


@dataclass
class TemplateCopy:
    path: Path
    initial_commit: str

    @classmethod
    def of_working_tree(cls, destination: Path) -> TemplateCopy:
        listed = git(REPOSITORY, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
        destination.mkdir(parents=True)
        for name in filter(None, listed.split("\0")):
            source = REPOSITORY / name
            if source.is_file():  # deleted but not yet committed files are listed too
                target = destination / name
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
        git(destination, "init", "--quiet", "--initial-branch=main")
        git(destination, "add", "--all")
        git(destination, "commit", "--quiet", "--message", "the working tree")
        return cls(destination, git(destination, "rev-parse", "HEAD").strip())

    def restore_working_tree(self) -> None:
        """Undo every change made to the copy since it was taken."""
        git(self.path, "checkout", self.initial_commit, "--", ".")
        git(self.path, "clean", "-fdq")

    def file(self, relative: str) -> Path:
        return self.path / relative

    def edit(self, relative: str, change: Callable[[str], str]) -> None:
        path = self.file(relative)
        changed = change(path.read_text())
        assert changed != path.read_text(), f"{relative}: the edit changed nothing"
        path.write_text(changed)

    def release(self, version: Version | str, summary: str, *, date: str | None = None) -> str:
        """Commit whatever changed and tag it `v<version>`; return the tag.

        `date` (ISO 8601) backdates the release, for tests of how long a service is behind.
        """
        tag = f"v{version}"
        dated = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date} if date else {}
        env = GIT_IDENTITY | dated
        run(["git", "add", "--all"], cwd=self.path, env=env)
        message = f"{tag}: {summary}"
        run(["git", "commit", "--quiet", "--allow-empty", "-m", message], cwd=self.path, env=env)
        run(["git", "tag", tag], cwd=self.path, env=env)
        return tag


def recorded_commit(project: Path) -> str:
    """The template release the project is on, from its answers file."""
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    return str(answers["_commit"])


@dataclass
class CopierRun:
    stdout: str
    stderr: str


def copier(*args: str, cwd: Path) -> CopierRun:
    """The `copier` command line, as a user runs it (tasks and migrations print to stderr)."""
    # Copier's imports then cost a fraction of a second instead of seconds after the first run.
    env = {**GIT_IDENTITY, **BYTECODE_CACHED}
    completed = run([sys.executable, "-m", "copier", *args], cwd=cwd, env=env)
    return CopierRun(completed.stdout, completed.stderr)


def commit_all(project: Path, message: str) -> None:
    git(project, "add", "--all")
    git(project, "commit", "--quiet", "--message", message)


def leftovers(project: Path) -> list[str]:
    """Conflict markers and `.rej` files anywhere in the project (ignored files included)."""
    found = []
    status = git(project, "status", "--porcelain", "--ignored", "--untracked-files=all")
    found += [line for line in status.splitlines() if line.endswith((".rej", ".orig"))]
    for name in filter(None, git(project, "ls-files", "-z").split("\0")):
        path = project / name
        if not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        for number, line in enumerate(text.splitlines(), start=1):
            if line.startswith(CONFLICT_MARKERS):
                found.append(f"{name}:{number}: {line}")
    return found


def lines_naming(project: Path, word: str, *, paths: Sequence[str] = ()) -> list[str]:
    """Every line of the project's files (tracked or not) that contains `word`."""
    names = paths or filter(
        None,
        git(project, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0"),
    )
    hits = []
    for name in names:
        path = project / name
        if path.is_file() and word in (text := path.read_text(errors="replace")):
            hits += [f"{name}: {line.strip()}" for line in text.splitlines() if word in line]
    return hits
