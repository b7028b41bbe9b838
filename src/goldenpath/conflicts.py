"""Conflicts an update leaves, turned into a report instead of markers in a commit.

`copier update --conflict=inline` merges each file three ways and writes git conflict markers
(`<<<<<<< before updating` ... `>>>>>>> after updating`) where the team and the release changed
the same lines. Committed, those markers break the service. Here each conflict keeps the team's
lines, and the release's lines go into a `Conflict` for the pull request, where a person decides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ._git import git

START, BASE, MIDDLE, END = "<<<<<<< ", "||||||| ", "=======", ">>>>>>> "


@dataclass(frozen=True)
class Conflict:
    path: str
    line: int  # where the kept (team's) lines start in the committed file, 1-based
    ours: str  # the team's lines, kept in the commit
    theirs: str  # the release's lines, left for a person

    def to_json(self) -> dict[str, object]:
        return {"path": self.path, "line": self.line, "ours": self.ours, "theirs": self.theirs}


def keep_ours(text: str) -> tuple[str, list[tuple[int, str, str]]]:
    """Resolve every marked conflict to the team's side; return the text and each conflict.

    Handles the diff3 style too (a `|||||||` base section, dropped). Text without markers is
    returned as it is.
    """
    kept: list[str] = []
    found: list[tuple[int, str, str]] = []
    section: str | None = None  # None outside a conflict, else "ours", "base" or "theirs"
    ours: list[str] = []
    theirs: list[str] = []
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if section is None and bare.startswith(START):
            section, ours, theirs = "ours", [], []
        elif section == "ours" and bare.startswith(BASE):
            section = "base"
        elif section in {"ours", "base"} and bare == MIDDLE:
            section = "theirs"
        elif section == "theirs" and bare.startswith(END):
            found.append((len(kept) + 1, "".join(ours), "".join(theirs)))
            kept.extend(ours)
            section = None
        elif section == "ours":
            ours.append(line)
        elif section == "theirs":
            theirs.append(line)
        elif section is None:
            kept.append(line)
    if section is not None:  # an unterminated marker is not a conflict Copier wrote
        return text, []
    return "".join(kept), found


def unmerged_paths(project: Path) -> list[str]:
    """Files git records as conflicted (Copier marks its inline conflicts in the index)."""
    listed = git(project, "diff", "--name-only", "--diff-filter=U", "-z")
    return sorted(set(filter(None, listed.split("\0"))))


def rejected_paths(project: Path) -> list[str]:
    """`.rej` files an update left (ignored ones too): hunks that were not applied at all."""
    status = git(project, "status", "--porcelain", "--ignored", "--untracked-files=all", "-z")
    entries = status.split("\0")
    return sorted(e[3:] for e in entries if e[:2] in {"??", "!!"} and e.endswith(".rej"))


def resolve_to_ours(project: Path) -> list[Conflict]:
    """Resolve every conflict the update left in `project` to the team's side, and report them.

    Marked files are rewritten without markers and staged; `.rej` files are reported whole
    and deleted. Nothing else in the working tree changes.
    """
    conflicts: list[Conflict] = []
    for path in unmerged_paths(project):
        file = project / path
        if not file.is_file():
            continue
        text, found = keep_ours(file.read_text(encoding="utf-8", errors="surrogateescape"))
        file.write_text(text, encoding="utf-8", errors="surrogateescape")
        git(project, "add", "--", path)
        conflicts += [Conflict(path, line, ours, theirs) for line, ours, theirs in found]
    for rejected in rejected_paths(project):
        file = project / rejected
        conflicts.append(Conflict(rejected.removesuffix(".rej"), 0, "", file.read_text()))
        file.unlink()
    return conflicts


def files_with_markers(project: Path) -> list[str]:
    """Tracked or new files that still hold a conflict marker line: the last line of defence."""
    listed = git(project, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    found = []
    for name in sorted(set(filter(None, listed.split("\0")))):
        file = project / name
        if not file.is_file() or file.is_symlink():
            continue
        try:
            lines = file.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            continue
        if any(line.startswith((START, END)) for line in lines):
            found.append(name)
    return found
