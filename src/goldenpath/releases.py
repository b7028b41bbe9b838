"""The template's releases: its semver tags, their dates, and the files each one ships.

Copier moves a service to the newest tag that parses as a PEP 440 version and is not a
prerelease; `TemplateRepository` lists tags by exactly that rule, so "newest" here is what
`copier update` would pick. It reads a private clone of the template (a bare one: only tags,
dates and a few files are needed), never the template's working tree.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from packaging.version import InvalidVersion, Version

from ._git import GitError, clone, git

# Copier's own shortcuts for template sources (see copier's `get_repo`).
SHORTCUTS = {"gh:": "https://github.com/", "gl:": "https://gitlab.com/"}
TAG_FIELDS = (
    "%(refname:strip=2)%00"
    "%(if)%(*objectname)%(then)%(*objectname)%(else)%(objectname)%(end)%00"
    "%(creatordate:unix)"
)


@dataclass(frozen=True)
class Release:
    tag: str
    version: Version
    commit: str
    date: datetime

    def to_json(self) -> dict[str, str]:
        return {"tag": self.tag, "date": self.date.date().isoformat()}


def clone_url(src_path: str) -> str:
    """The URL git understands for a template source as Copier records it in `_src_path`."""
    for prefix, base in SHORTCUTS.items():
        if src_path.startswith(prefix):
            path = src_path.removeprefix(prefix)
            return f"{base}{path}" if path.endswith(".git") else f"{base}{path}.git"
    return src_path.removeprefix("git+")


def release_version(tag: str) -> Version | None:
    """The version a tag stands for, or None when Copier would never update to it."""
    try:
        version = Version(tag)
    except InvalidVersion:
        return None
    return None if version.is_prerelease else version


@dataclass
class TemplateRepository:
    """A bare clone of the template, read for its releases, changelog and `_migrations`."""

    source: str
    path: Path
    releases: list[Release]

    @classmethod
    def clone(cls, source: str, workdir: Path) -> TemplateRepository:
        destination = Path(tempfile.mkdtemp(prefix="template-", dir=workdir)) / "template.git"
        try:
            clone(clone_url(source), destination, bare=True)
        except GitError as error:
            raise GitError(f"cannot read the template at {source!r}: {error}") from error
        return cls(source, destination, list_releases(destination))

    @property
    def newest(self) -> Release | None:
        return self.releases[-1] if self.releases else None

    def releases_after(self, version: Version | None) -> list[Release]:
        """The releases an update from `version` would bring, oldest first."""
        if version is None:
            return list(self.releases)
        return [release for release in self.releases if release.version > version]

    def release(self, tag: str) -> Release | None:
        return next((release for release in self.releases if release.tag == tag), None)

    def read(self, tag: str, filename: str) -> str | None:
        """A file as the release `tag` ships it, or None when the release has no such file."""
        try:
            return git(self.path, "show", f"{tag}:{filename}")
        except GitError:
            return None


def list_releases(repository: Path) -> list[Release]:
    listed = git(repository, "for-each-ref", f"--format={TAG_FIELDS}", "refs/tags")
    releases = []
    for line in filter(None, listed.splitlines()):
        tag, commit, timestamp = line.split("\0")
        version = release_version(tag)
        if version is not None:
            date = datetime.fromtimestamp(int(timestamp), tz=UTC)
            releases.append(Release(tag, version, commit, date))
    return sorted(releases, key=lambda release: release.version)
