"""Conflicts an update leaves, turned into a report instead of markers in a commit.

`copier update --conflict=inline` merges each file three ways and writes git conflict markers
(`<<<<<<< before updating` ... `>>>>>>> after updating`) where the team and the release changed
the same lines. Committed, those markers break the service. Here each conflict keeps the team's
lines, and the release's lines go into a `Conflict` for the pull request, where a person decides.

Copier writes the markers without the common ancestor's lines, but records the three versions
in the index (stage 1: the last update's render, 2: the team's file, 3: the release's render).
Merging those again in diff3 style recovers, for each conflict, the lines both sides started
from, so the report can say exactly which change of the release's was dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

from ._git import git

START, BASE, MIDDLE, END = "<<<<<<< ", "||||||| ", "=======", ">>>>>>> "


@dataclass(frozen=True)
class Conflict:
    path: str
    line: int  # where the kept (team's) lines start in the committed file, 1-based
    ours: str  # the team's lines, kept in the commit
    theirs: str  # the release's lines, left for a person
    base: str | None = None  # the lines both started from (the last update's); None: unknown

    @property
    def lines(self) -> int:
        return max(1, len(self.ours.splitlines()))

    def to_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "line": self.line,
            "ours": self.ours,
            "theirs": self.theirs,
            "base": self.base,
        }


def keep_ours(text: str) -> tuple[str, list[tuple[int, str, str]]]:
    """Resolve every marked conflict to the team's side; return the text and each conflict.

    Handles the diff3 style too (a `|||||||` base section, dropped). Text without markers is
    returned as it is.
    """
    kept, found = _split(text)
    return kept, [(line, ours, theirs) for line, ours, _, theirs in found]


def _split(text: str) -> tuple[str, list[tuple[int, str, str, str]]]:
    """The text with every conflict resolved to the team's side, and each conflict's line,
    ours, base (empty unless diff3 style) and theirs."""
    kept: list[str] = []
    found: list[tuple[int, str, str, str]] = []
    section: str | None = None  # None outside a conflict, else "ours", "base" or "theirs"
    parts: dict[str, list[str]] = {}
    for line in text.splitlines(keepends=True):
        bare = line.rstrip("\r\n")
        if section is None and bare.startswith(START):
            section, parts = "ours", {"ours": [], "base": [], "theirs": []}
        elif section == "ours" and bare.startswith(BASE):
            section = "base"
        elif section in {"ours", "base"} and bare == MIDDLE:
            section = "theirs"
        elif section == "theirs" and bare.startswith(END):
            ours, base, theirs = ("".join(parts[name]) for name in ("ours", "base", "theirs"))
            found.append((len(kept) + 1, ours, base, theirs))
            kept.extend(parts["ours"])
            section = None
        elif section is not None:
            parts[section].append(line)
        else:
            kept.append(line)
    if section is not None:  # an unterminated marker is not a conflict Copier wrote
        return text, []
    return "".join(kept), found


def _stages(project: Path, path: str) -> dict[int, str]:
    """The versions of a conflicted file the index holds, by stage (1 base, 2 ours, 3 theirs)."""
    listed = git(project, "ls-files", "--stage", "-z", "--", path)
    stages = {}
    for entry in filter(None, listed.split("\0")):
        info, _, _name = entry.partition("\t")
        _mode, sha, stage = info.split()
        stages[int(stage)] = git(project, "cat-file", "blob", sha)
    return stages


def ancestors(project: Path, path: str) -> list[tuple[str, str, str]]:
    """(ours, base, theirs) of every conflict in `path`, merged again in diff3 style from
    the three versions Copier left in the index; [] when it left no base (a file new to both)."""
    try:
        stages = _stages(project, path)
    except UnicodeDecodeError:  # not text: nothing to show line by line
        return []
    if not {1, 2, 3} <= stages.keys():
        return []
    ours, base, theirs = stages[2], stages[1], stages[3]
    with TemporaryDirectory(prefix="goldenpath-merge-") as folder:
        files = []
        for name, text in (("ours", ours), ("base", base), ("theirs", theirs)):
            file = Path(folder) / name
            file.write_text(text, encoding="utf-8", errors="surrogateescape")
            files.append(str(file))
        merged = git(
            Path(folder),
            "merge-file", "-p", "--diff3",
            "-L", "before updating", "-L", "last update", "-L", "after updating",
            *files,
            check=False,
        )  # fmt: skip
    return [(ours_, base_, theirs_) for _, ours_, base_, theirs_ in _split(merged)[1]]


def _with_base(
    path: str, found: list[tuple[int, str, str]], views: list[tuple[str, str, str]]
) -> list[Conflict]:
    """Each conflict with the base of the diff3 conflict that holds both its sides (diff3
    conflicts are never narrower than the markers Copier wrote)."""
    conflicts = []
    remaining = list(views)
    for line, ours, theirs in found:
        match = next((view for view in remaining if ours in view[0] and theirs in view[2]), None)
        if match is not None:
            remaining = remaining[remaining.index(match) :]
        conflicts.append(Conflict(path, line, ours, theirs, match[1] if match else None))
    return conflicts


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
        views = ancestors(project, path)
        file.write_text(text, encoding="utf-8", errors="surrogateescape")
        git(project, "add", "--", path)
        conflicts += _with_base(path, found, views)
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
