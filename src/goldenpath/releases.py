"""The template's releases: its semver tags, their dates, and the files each one ships.

Copier moves a service to the newest tag that parses as a PEP 440 version and is not a
prerelease; `TemplateRepository` lists tags by exactly that rule, so "newest" here is what
`copier update` would pick. It reads a private clone of the template (a bare one: only tags,
dates and a few files are needed), never the template's working tree.

A template with no release tag at all (a clone made without tags, a fork before its first
release) is what Copier calls untagged: it copies and updates to the newest commit (HEAD) and
records that commit's short hash in `_commit`. Then the unit of "how far behind" is a commit:
`head` and `commit_release` stand for commits as `Release`s with `tagged=False`, and
`commits_between` lists what an update would bring.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from packaging.version import InvalidVersion, Version

from ._git import CLONE_TIMEOUT, GitError, clone, git

# Copier's own shortcuts for template sources (see copier's `get_repo`).
SHORTCUTS = {"gh:": "https://github.com/", "gl:": "https://gitlab.com/"}
TAG_FIELDS = (
    "%(refname:strip=2)%00"
    "%(if)%(*objectname)%(then)%(*objectname)%(else)%(objectname)%(end)%00"
    "%(creatordate:unix)"
)
# `git describe --tags --always` past a tag (`v0.2.0-3-gabc1234`), or a bare abbreviated hash.
DESCRIBED = re.compile(r"^(?P<tag>.+)-(?P<count>\d+)-g(?P<sha>[0-9a-f]{4,40})$")
BARE_HASH = re.compile(r"^[0-9a-f]{7,40}$")


@dataclass(frozen=True)
class Release:
    """A release tag; or, in an untagged template, a commit (`tagged` False, `tag` its hash)."""

    tag: str
    version: Version  # as Copier orders it (for a commit: dunamai's 0.0.0.postN.dev0+hash)
    commit: str
    date: datetime
    tagged: bool = True

    @property
    def ref(self) -> str:
        """What `copier update --vcs-ref` and `uvx --from git+URL@...` take for it."""
        return self.tag if self.tagged else self.commit

    def to_json(self) -> dict[str, str]:
        return {"tag": self.tag, "date": self.date.date().isoformat()}


@dataclass(frozen=True)
class Commit:
    sha: str
    date: datetime
    subject: str

    def to_json(self) -> dict[str, str]:
        return {"commit": self.sha, "date": self.date.isoformat(), "subject": self.subject}


def clone_url(src_path: str) -> str:
    """The URL git understands for a template source as Copier records it in `_src_path`."""
    for prefix, base in SHORTCUTS.items():
        if src_path.startswith(prefix):
            path = src_path.removeprefix(prefix)
            return f"{base}{path}" if path.endswith(".git") else f"{base}{path}.git"
    return src_path.removeprefix("git+")


def same_source(recorded: str, trusted: str) -> bool:
    """Whether two spellings of a template source name one repository: Copier's shortcuts,
    `git+`, a trailing `/` or `.git` aside (`gh:acme/goldenpath` is
    `https://github.com/acme/goldenpath.git`)."""

    def key(source: str) -> str:
        return clone_url(source.strip()).rstrip("/").removesuffix(".git")

    return key(recorded) == key(trusted)


def release_version(tag: str) -> Version | None:
    """The version a tag stands for, or None when Copier would never update to it."""
    try:
        version = Version(tag)
    except InvalidVersion:
        return None
    return None if version.is_prerelease else version


def recorded_hash(commit: str) -> str | None:
    """The commit hash inside a recorded `_commit`: past a tag, or bare; None for a tag."""
    if found := DESCRIBED.match(commit):
        return found["sha"]
    return commit if BARE_HASH.match(commit) else None


@dataclass
class TemplateRepository:
    """A bare clone of the template, read for its releases, changelog and `_migrations`."""

    source: str
    path: Path
    releases: list[Release]

    @classmethod
    def clone(
        cls, source: str, workdir: Path, *, timeout: float = CLONE_TIMEOUT
    ) -> TemplateRepository:
        destination = Path(tempfile.mkdtemp(prefix="template-", dir=workdir)) / "template.git"
        try:
            clone(clone_url(source), destination, bare=True, timeout=timeout)
        except GitError as error:
            raise GitError(f"cannot read the template at {source!r}: {error}") from error
        return cls(source, destination, list_releases(destination))

    @property
    def untagged(self) -> bool:
        """No release tag: Copier copies and updates to the newest commit instead."""
        return not self.releases

    @property
    def newest(self) -> Release | None:
        return self.releases[-1] if self.releases else None

    @property
    def head(self) -> Release:
        """The newest commit of the default branch: what Copier takes when there is no tag."""
        found = self.commit_release("HEAD")
        if found is None:
            raise GitError(f"the template at {self.source!r} has no commit")
        return found

    def releases_after(self, version: Version | None) -> list[Release]:
        """The releases an update from `version` would bring, oldest first."""
        if version is None:
            return list(self.releases)
        return [release for release in self.releases if release.version > version]

    def release(self, tag: str) -> Release | None:
        return next((release for release in self.releases if release.tag == tag), None)

    def resolve(self, ref: str) -> str | None:
        """The full hash of a commit the template has (a hash, tag or branch), else None."""
        if not ref or ref.startswith("-"):
            return None
        found = git(self.path, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}", check=False)
        return found.strip() or None

    def commit_release(self, ref: str) -> Release | None:
        """A commit as Copier records and orders it, when the template has it."""
        sha = self.resolve(ref)
        if sha is None:
            return None
        described = self._describe(sha)
        timestamp = git(self.path, "show", "-s", "--format=%ct", sha).strip()
        return Release(
            described,
            self._version_described(sha, described),
            sha,
            datetime.fromtimestamp(int(timestamp), tz=UTC),
            tagged=False,
        )

    def copier_version(self, sha: str) -> Version:
        """The PEP 440 version Copier gives a commit (dunamai's rules): the described tag
        with `.postN` past it, or `0.0.0.postN.dev0+hash` with N commits when no tag precedes
        it. Copier runs a versioned migration when an update crosses its version."""
        return self._version_described(sha, self._describe(sha))

    def _describe(self, sha: str) -> str:
        return git(self.path, "describe", "--tags", "--always", sha).strip()

    def _version_described(self, sha: str, described: str) -> Version:
        if found := DESCRIBED.match(described):
            try:
                return Version(f"{found['tag']}.post{found['count']}+g{found['sha']}")
            except InvalidVersion:
                pass
        elif (version := release_version(described)) is not None:
            return version
        count = git(self.path, "rev-list", "--count", sha).strip()
        return Version(f"0.0.0.post{count}.dev0+{sha[:7]}")

    def commits_between(self, old: str, new: str) -> list[Commit]:
        """The commits `new` has and `old` lacks, oldest first (what an update brings)."""
        listed = git(self.path, "log", "--reverse", "--format=%H%x00%ct%x00%s", f"{old}..{new}")
        commits = []
        for line in filter(None, listed.splitlines()):
            sha, timestamp, subject = line.split("\0", 2)
            commits.append(Commit(sha, datetime.fromtimestamp(int(timestamp), tz=UTC), subject))
        return commits

    def read(self, ref: str, filename: str) -> str | None:
        """A file as the release (tag or commit) `ref` ships it, or None when it has none."""
        try:
            return git(self.path, "show", f"{ref}:{filename}")
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
