"""The template's CHANGELOG.md (Keep a Changelog): what a given update changes for a service.

Each release has a `## [X.Y.Z]` section (optionally `- date` after it) saying what it changes
for generated services and which migration runs. An update from release A to release B brings
every section in (A, B]; those sections are what the update's pull request quotes. Between two
commits of an untagged template, the sections that changed (`[Unreleased]` above all) do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

HEADING = re.compile(r"^## \[(?P<name>[^\]]+)\](?P<rest>.*)$", re.MULTILINE)
# Keep a Changelog's link definitions at the end of the file (`[0.2.0]: https://...`).
LINK_DEFINITION = re.compile(r"^\[[^\]]+\]: \S+\s*$", re.MULTILINE)


@dataclass(frozen=True)
class ChangelogSection:
    version: Version | None  # None: `[Unreleased]` or another name that is no version
    heading: str
    body: str


def all_sections(text: str) -> list[ChangelogSection]:
    """Every `## [...]` section, in file order (`[Unreleased]` with version None)."""
    found = list(HEADING.finditer(text))
    sections = []
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(text)
        try:
            version: Version | None = Version(match["name"])
        except InvalidVersion:
            version = None
        body = LINK_DEFINITION.sub("", text[match.end() : end]).strip()
        heading = f"{match['name']}{match['rest']}".strip()
        sections.append(ChangelogSection(version, heading, body))
    return sections


def release_sections(text: str) -> list[ChangelogSection]:
    """Every released section, in file order; `[Unreleased]` and unparseable names skipped."""
    return [section for section in all_sections(text) if section.version is not None]


def changed_sections(before: str, after: str) -> list[ChangelogSection]:
    """The sections of `after` that `before` lacks or words differently, in file order."""
    known = {(section.heading, section.body) for section in all_sections(before)}
    return [
        section
        for section in all_sections(after)
        if section.body and (section.heading, section.body) not in known
    ]


def sections_between(text: str, after: Version | None, upto: Version) -> list[ChangelogSection]:
    """The sections an update from `after` to `upto` brings, newest first (the file's order)."""
    return [
        section
        for section in release_sections(text)
        if section.version is not None
        and section.version <= upto
        and (after is None or section.version > after)
    ]
