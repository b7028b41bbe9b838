"""The repository as a set of files: listed once, read lazily, each parsed once.

Only what a reviewer would read counts: virtual environments, caches, build output and VCS
folders are skipped, so a repository with a synced `.venv` audits as fast as a fresh clone and
third-party code never counts as the service's own.
"""

from __future__ import annotations

import os
import subprocess
import tomllib
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

from goldenpath._files import OutsideError, read_inside
from goldenpath.bounded_yaml import NotYamlError, YamlRefusedError, load_documents

SKIPPED_DIRECTORIES = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".venv",
        "venv",
        ".env",
        "env",
        "node_modules",
        "__pycache__",
        ".tox",
        ".nox",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".hypothesis",
        "build",
        "dist",
        "site-packages",
        ".eggs",
        "htmlcov",
        ".idea",
        ".vscode",
        "site",
        ".cache",
    }
)
MAX_FILE_BYTES = 2_000_000  # a larger text file is data, not configuration or code
# Files whose content a check would read: when one cannot be, the report says so.
SOURCE_SUFFIXES = (".py", ".toml", ".cfg", ".ini", ".yml", ".yaml", ".txt", ".in", ".sh", ".conf")
SOURCE_NAMES = frozenset({"Dockerfile", "Containerfile", "Procfile", "Pipfile", "Jenkinsfile"})
TEST_DIRECTORIES = frozenset({"tests", "test", "testing"})
# Folders of code that is not the service: examples and documentation snippets, whatever they
# do, are not what the service runs. Hidden folders (`.semgrep/`, `.github/`) belong to tools.
NOT_SERVICE_DIRECTORIES = frozenset({"examples", "example", "docs", "docs_src", "doc"})
COMPOSE_FILES = ("compose.yml", "compose.yaml", "docker-compose.yml", "docker-compose.yaml")


class Repository:
    """Read-only access to one repository's files, by POSIX path relative to its root."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._texts: dict[str, str | None] = {}
        # Each YAML file's documents, parsed once however many checks read it; shared, so read
        # only (a check that must change one copies it).
        self._yaml: dict[str, list[Any]] = {}
        # Files that are not in the tree but count as the service's (its chassis, facts/chassis.py).
        self._overlay: dict[str, str] = {}
        # Files the audit could not read (or read only in part): path -> why.
        self.not_read: dict[str, str] = {}
        # CI files read from the repository that holds the audited folder (a monorepo's
        # `backend/`): their paths, and the folder's place in that repository ("backend/").
        self.outer_files: frozenset[str] = frozenset()
        self.outer_prefix = ""

    def adopt_outer_ci(self) -> Path | None:
        """Read the CI workflows, pre-commit hooks and compose files of the git repository the
        audited folder sits in, when the folder has no workflows of its own: auditing `backend/`
        or the repository's root must see the same pipeline. Returns that repository's root."""
        if any(path.startswith(".github/workflows/") for path in self.files):
            return None
        top = next((parent for parent in self.root.parents if (parent / ".git").exists()), None)
        if top is None or not (top / ".github" / "workflows").is_dir():
            return None
        adopted: dict[str, str] = {}
        candidates = sorted((top / ".github" / "workflows").glob("*.y*ml"))
        candidates += [
            top / name
            for name in (*COMPOSE_FILES, ".pre-commit-config.yaml")
            if (top / name).is_file()
        ]
        for path in candidates:
            relative = path.relative_to(top).as_posix()
            if relative in self._file_set:
                continue
            try:
                data = read_inside(top, path, MAX_FILE_BYTES)
            except OSError:
                continue
            if data is not None:
                adopted[relative] = data.decode("utf-8", errors="replace")
        if not adopted:
            return None
        self.add_overlay(adopted)
        self.outer_files = frozenset(adopted)
        self.outer_prefix = self.root.relative_to(top).as_posix() + "/"
        return top

    def unread(self, path: str, reason: str) -> None:
        """Record that `path` was not (fully) read, for the report's "not read" list."""
        self.not_read.setdefault(path, reason)

    def add_overlay(self, files: Mapping[str, str]) -> None:
        """Count `files` (path -> text) as part of the repository, before anything is read."""
        self._overlay.update(files)
        self.__dict__.pop("files", None)
        self.__dict__.pop("_file_set", None)

    @cached_property
    def files(self) -> tuple[str, ...]:
        found: list[str] = []
        for directory, subdirectories, names in os.walk(self.root):
            subdirectories[:] = sorted(
                name
                for name in subdirectories
                if name not in SKIPPED_DIRECTORIES and not name.endswith(".egg-info")
            )
            relative = Path(directory).relative_to(self.root)
            found.extend((relative / name).as_posix() for name in sorted(names))
        return (*found, *sorted(self._overlay))

    @cached_property
    def _git_ignored(self) -> tuple[str, ...]:
        """What git ignores here (files, and directories ending in /); () outside a work tree."""
        try:
            listed = subprocess.run(
                [
                    "git",
                    "ls-files",
                    "-z",
                    "--others",
                    "--ignored",
                    "--exclude-standard",
                    "--directory",
                ],
                cwd=self.root,
                capture_output=True,
                timeout=30,
                check=True,
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return ()
        return tuple(entry for entry in listed.decode("utf-8", "replace").split("\0") if entry)

    def is_ignored(self, path: str) -> bool:
        """True when git ignores the file: it lives only in this working tree, never in a commit
        (a development key in `var/`, say)."""
        return any(
            path == entry or (entry.endswith("/") and path.startswith(entry))
            for entry in self._git_ignored
        )

    def exists(self, path: str) -> bool:
        return path in self._file_set

    @cached_property
    def _file_set(self) -> frozenset[str]:
        return frozenset(self.files)

    def matching(self, *suffixes: str, names: tuple[str, ...] = ()) -> list[str]:
        """Files whose name ends with one of `suffixes` or equals one of `names`."""
        return [
            path
            for path in self.files
            if path.endswith(suffixes) or PurePosixPath(path).name in names
        ]

    def text(self, path: str) -> str | None:
        """The file's text, or None when it is absent, binary or too large to be source."""
        if path not in self._texts:
            self._texts[path] = self._read(path)
        return self._texts[path]

    def _read(self, path: str) -> str | None:
        if path in self._overlay:
            return self._overlay[path]
        if path not in self._file_set:
            return None
        data = self._bytes(path)
        if data is None or b"\0" in data[:4096]:
            return None
        return data.decode("utf-8", errors="replace")

    def _bytes(self, path: str) -> bytes | None:
        """The file's bytes; None, and why in `not_read` when it matters, when not read."""
        full = self.root / path
        try:
            data = read_inside(self.root, full, MAX_FILE_BYTES)
            if data is None and self.is_source(path):
                size = full.stat().st_size
                self.unread(
                    path,
                    f"too large ({size / 1_000_000:.1f} MB; the limit is "
                    f"{MAX_FILE_BYTES / 1_000_000:.0f} MB)",
                )
        except OutsideError as error:
            self.unread(path, f"not read: {error}")
            return None
        except OSError as error:
            if self.is_source(path):
                self.unread(path, f"cannot be read: {error.strerror or error}")
            return None
        return data

    @staticmethod
    def is_source(path: str) -> bool:
        name = PurePosixPath(path).name
        return path.endswith(SOURCE_SUFFIXES) or name in SOURCE_NAMES

    def toml(self, path: str) -> dict[str, Any]:
        text = self.text(path)
        if text is None:
            return {}
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            self.unread(path, f"unparseable TOML: {error}")
            return {}

    def yaml_documents(self, path: str) -> list[Any]:
        """Every YAML document in the file; [] when it is not YAML (a Helm template, say), or
        past the reader's bounds (then listed as not read): a repository's aliases can expand
        to more items than the audit could ever walk. Parsed the first time it is asked for;
        the documents are the same objects every time, not to be changed."""
        if path not in self._yaml:
            self._yaml[path] = self._parsed_yaml(path)
        return list(self._yaml[path])

    def _parsed_yaml(self, path: str) -> list[Any]:
        text = self.text(path)
        if text is None:
            return []
        try:
            documents = load_documents(text)
        except YamlRefusedError as error:
            self.unread(path, f"not read: {error}")
            return []
        except NotYamlError:
            return []
        return [document for document in documents if document is not None]

    @staticmethod
    def is_test_path(path: str) -> bool:
        parts = PurePosixPath(path).parts
        name = parts[-1]
        return (
            any(part in TEST_DIRECTORIES for part in parts[:-1])
            or name.startswith("test_")
            or name.endswith("_test.py")
            or name in {"tests.py", "conftest.py"}  # tests.py: Django's convention
        )

    @staticmethod
    def is_tooling_path(path: str) -> bool:
        """True for code a tool or a reader runs, never the service: a hidden folder's (a
        linter's rule samples in `.semgrep/`, a workflow's helper in `.github/`), or an example
        or documentation folder's. Their YAML stays read where a check asks for it by path."""
        folders = PurePosixPath(path).parts[:-1]
        return any(
            (part.startswith(".") and part not in {".", ".."}) or part in NOT_SERVICE_DIRECTORIES
            for part in folders
        )

    @staticmethod
    def line_of(text: str, needle: str) -> int | None:
        """The 1-based line of the first occurrence of `needle` in `text`, if any."""
        index = text.find(needle)
        return None if index < 0 else text.count("\n", 0, index) + 1
