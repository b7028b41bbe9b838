"""Migration: rename a settings variable everywhere in a service that the template does not own.

Usage (from `_migrations` in copier.yml, run in the project after `copier update` applied the
new release): `python rename_setting.py OLD_NAME NEW_NAME`.

A release that renames a setting changes the template's own files itself (settings.py, README,
manifests). What it cannot see are the places a team wrote the old name: `.env` files (ignored
by git), deployment values, scripts, and code that reads `settings.old_name`. Left alone, the old
variable would be ignored at start-up, so this rewrites both spellings, `OLD_NAME` (environment)
and `old_name` (the Python field), as whole words in every text file of the project, and prints
what it changed so the team can review the diff before committing. A line that names both the
old and the new name describes the rename and is left alone.

Standard library only: Copier runs it with its own interpreter, before the project is synced.
"""

from __future__ import annotations

import argparse
import fnmatch
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")
# Never rewritten: history, environments, lock files, and the answers Copier keeps.
SKIPPED_PARTS = frozenset({".git", ".venv", "node_modules", "__pycache__"})
SKIPPED_FILES = frozenset({"uv.lock", ".copier-answers.yml"})
# Environment files are usually ignored by git but are exactly where an old name lingers.
DOTENV_PATTERNS = (".env", ".env.*", "*.env")


def _log(message: str) -> None:
    print(f"migration rename_setting: {message}", file=sys.stderr)


def project_files(project: Path) -> list[Path]:
    """Files a user owns: git's tracked and untracked-but-not-ignored files, plus dotenv files."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=project,
        capture_output=True,
        check=True,
    ).stdout.decode()
    names = {name for name in listed.split("\0") if name}
    names.update(str(path.relative_to(project)) for path in dotenv_files(project))
    return sorted(
        project / name
        for name in names
        if not SKIPPED_PARTS.intersection(Path(name).parts)
        and Path(name).name not in SKIPPED_FILES
        and (project / name).is_file()
        and not (project / name).is_symlink()
    )


def dotenv_files(project: Path) -> Iterator[Path]:
    for folder, subfolders, files in os.walk(project):
        subfolders[:] = [name for name in subfolders if name not in SKIPPED_PARTS]
        for name in files:
            if any(fnmatch.fnmatchcase(name, pattern) for pattern in DOTENV_PATTERNS):
                yield Path(folder) / name


def whole_word(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")


def rename_in_text(text: str, old: str, new: str) -> tuple[str, int]:
    """Both spellings, whole words only: `OLD_NAME` -> `NEW_NAME`, `old_name` -> `new_name`.

    A line that names both the old and the new name describes the rename itself (the service's
    table of retired variables, a changelog entry) and is kept as it is.
    """
    total = 0
    lines = text.splitlines(keepends=True)
    describes_rename = re.compile(whole_word(new).pattern, re.IGNORECASE)
    spellings = ((whole_word(old), new), (whole_word(old.lower()), new.lower()))
    for index, original in enumerate(lines):
        if describes_rename.search(original):
            continue
        line = original
        for pattern, replacement in spellings:
            line, count = pattern.subn(replacement, line)
            total += count
        lines[index] = line
    return "".join(lines), total


def rename_in_files(files: Iterable[Path], old: str, new: str) -> dict[Path, int]:
    changed: dict[Path, int] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary
        renamed, count = rename_in_text(text, old, new)
        if count:
            path.write_text(renamed, encoding="utf-8")
            changed[path] = count
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", help="the retired variable, e.g. HEALTH_TIMEOUT_SECONDS")
    parser.add_argument("new", help="its replacement, e.g. READINESS_TIMEOUT_SECONDS")
    parser.add_argument("--project", type=Path, default=Path.cwd(), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    for name in (args.old, args.new):
        if not NAME.match(name):
            parser.error(f"{name!r} is not an environment variable name (UPPER_SNAKE_CASE)")
    project: Path = args.project.resolve()
    changed = rename_in_files(project_files(project), args.old, args.new)
    for path, count in changed.items():
        _log(f"{path.relative_to(project)}: {count} x {args.old} -> {args.new}")
    _log(f"{args.old} -> {args.new}: {len(changed)} file(s) changed; review with `git diff`")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
