"""Files a template update changes that the service had deleted.

`copier update` leaves a file the team deleted deleted, even when the release changes it, and
says nothing: a fix in that file (a workflow's pinned action, a manifest's security context)
never reaches the service, and nobody is told. To name them, the template is rendered at the
target with the service's answers, as Copier renders it, without tasks, and, only when the
updated service lacks a file of it, at the service's release too; every such file the release
changed (or added) is reported with the release's change, as a conflict's dropped side is.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import yaml

from ._processes import run_bounded
from .answers import recorded_answers
from .gates import service_environment


class RenderError(RuntimeError):
    """The template could not be rendered at a release; the message says which and why."""


@dataclass(frozen=True)
class DeletedFile:
    """A file the release changes that the service deleted: the release's change is not applied."""

    path: str
    before: str | None  # at the service's release (None: the release adds the file)
    after: str

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "added_by_the_release": self.before is None}


def render(
    template: str, ref: str, answers: dict[str, object], destination: Path, *, timeout: float
) -> Path:
    """The template at `ref`, rendered with `answers` into `destination`, tasks skipped; a
    render (its Jinja extensions, its git clone) that runs over `timeout` seconds is stopped
    with every process it started, and is a RenderError that says so."""
    data = destination.with_suffix(".answers.yml")
    data.write_text(yaml.safe_dump(answers), encoding="utf-8")
    command = [
        sys.executable, "-m", "copier", "copy",
        "--trust", "--defaults", "--skip-tasks", "--quiet", "--overwrite",
        f"--vcs-ref={ref}", f"--data-file={data}",
        template, str(destination),
    ]  # fmt: skip
    try:
        completed = run_bounded(
            command, cwd=destination.parent, env=service_environment(), timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise RenderError(
            f"rendering the template at {ref} (`copier copy`) did not finish within "
            f"{timeout:g} s, so it was stopped with every process it started; give it longer "
            "with --update-timeout SECONDS if it needs it"
        ) from None
    if completed.returncode != 0:
        raise RenderError(
            f"cannot render the template at {ref}: {(completed.stderr or completed.stdout)[-2000:]}"
        )
    return destination


def _content(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() else None


def _text(content: bytes) -> str:
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        return f"(a binary file of {len(content)} bytes)"


def deleted_but_changed(
    project: Path, template: str, service_ref: str, target_ref: str, *, timeout: float
) -> tuple[DeletedFile, ...]:
    """The files `target_ref` changes or adds that `project` (already updated) does not have.

    `template` is what Copier takes as a source (a git URL or `git+file://` path).
    """
    answers = recorded_answers(project)
    with TemporaryDirectory(prefix="goldenpath-renders-") as folder:
        after = render(template, target_ref, answers, Path(folder) / "after", timeout=timeout)
        rendered = (path.relative_to(after) for path in sorted(after.rglob("*")) if path.is_file())
        missing = [relative for relative in rendered if not (project / relative).exists()]
        if not missing:  # most services: nothing deleted, so no release to compare with
            return ()
        before = render(template, service_ref, answers, Path(folder) / "before", timeout=timeout)
        found = []
        for relative in missing:
            old, new = _content(before / relative), (after / relative).read_bytes()
            if old != new:
                shown = None if old is None else _text(old)
                found.append(DeletedFile(relative.as_posix(), shown, _text(new)))
    return tuple(found)
