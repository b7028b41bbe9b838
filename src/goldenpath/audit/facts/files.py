"""The repository as a set of files: listed once, read lazily, parsed once.

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

import yaml

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
TEST_DIRECTORIES = frozenset({"tests", "test", "testing"})


class Repository:
    """Read-only access to one repository's files, by POSIX path relative to its root."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._texts: dict[str, str | None] = {}
        # Files that are not in the tree but count as the service's (its chassis, facts/chassis.py).
        self._overlay: dict[str, str] = {}

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
        full = self.root / path
        try:
            if full.stat().st_size > MAX_FILE_BYTES:
                return None
            data = full.read_bytes()
        except OSError:
            return None
        if b"\0" in data[:4096]:
            return None
        return data.decode("utf-8", errors="replace")

    def toml(self, path: str) -> dict[str, Any]:
        text = self.text(path)
        if text is None:
            return {}
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            return {}

    def yaml_documents(self, path: str) -> list[Any]:
        """Every YAML document in the file; [] when it is not YAML (a Helm template, say)."""
        text = self.text(path)
        if text is None:
            return []
        try:
            return [document for document in yaml.safe_load_all(text) if document is not None]
        except yaml.YAMLError:
            return []

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
    def line_of(text: str, needle: str) -> int | None:
        """The 1-based line of the first occurrence of `needle` in `text`, if any."""
        index = text.find(needle)
        return None if index < 0 else text.count("\n", 0, index) + 1
