"""What an audit finds: requirements with evidence, standards with a status, and the scores.

A standard is judged by a few concrete requirements (a readiness route, a digest-pinned base
image, ...). Each requirement is met or missing, with the evidence that decided it: a file and
line, or the reason nothing was found. Scores are plain arithmetic over those verdicts, so
anyone can recompute them from the JSON report:

- a standard scores the share of its applicable requirements that are met; it passes at 1,
  fails at 0 and is partial in between;
- an area scores the mean of its applicable standards, the overall score the mean of every
  applicable standard in the scored areas (each standard weighs the same);
- a standard that does not apply to the service (no database, no cookies, no background
  work) is "not applicable" and left out of every mean, with the reason;
- a requirement the audit cannot decide from the code (a dependency from a library it does not
  read, settings passed through `**kwargs` it cannot follow) "could not be determined": it is
  shown with the reason and counts neither way, and a standard with nothing but such
  requirements is itself "could not determine".
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from .catalogue import AREAS, BY_ID, Area, Standard, standards_of


class Outcome(StrEnum):
    MET = "met"
    MISSING = "missing"
    NOT_APPLICABLE = "not applicable"
    UNDETERMINED = "could not determine"


class Status(StrEnum):
    PASS = "pass"  # noqa: S105 - a verdict, not a password
    PARTIAL = "partial"
    FAIL = "fail"
    NOT_APPLICABLE = "not applicable"
    UNDETERMINED = "could not determine"


@dataclass(frozen=True)
class Evidence:
    """Where something was seen (or where it belongs): a repository-relative path and line."""

    path: str
    line: int | None = None
    detail: str = ""

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where} {self.detail}".strip()


@dataclass(frozen=True)
class Requirement:
    """One thing a standard needs, and the verdict on it."""

    name: str
    outcome: Outcome
    detail: str
    evidence: tuple[Evidence, ...] = ()
    fix: str = ""
    source: str = "static"  # or "probe": seen on the running service

    @property
    def met(self) -> bool:
        return self.outcome is Outcome.MET


@dataclass(frozen=True)
class StandardResult:
    standard: Standard
    requirements: tuple[Requirement, ...] = ()
    not_applicable: str | None = None  # why the whole standard does not apply
    proven_by: tuple[Evidence, ...] = ()  # tests named after the standard (test_sec3_*)

    @property
    def applicable(self) -> tuple[Requirement, ...]:
        """The requirements that count: decided, and applicable to this service."""
        return tuple(r for r in self.requirements if r.outcome in {Outcome.MET, Outcome.MISSING})

    @property
    def undetermined(self) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements if r.outcome is Outcome.UNDETERMINED)

    @property
    def score(self) -> float | None:
        """Share of decided requirements met; None when nothing could be scored."""
        applicable = self.applicable
        if self.not_applicable is not None or not applicable:
            return None
        return sum(r.met for r in applicable) / len(applicable)

    @property
    def status(self) -> Status:
        score = self.score
        if score is None:
            if self.not_applicable is None and self.undetermined:
                return Status.UNDETERMINED
            return Status.NOT_APPLICABLE
        if score >= 1:
            return Status.PASS
        return Status.FAIL if score <= 0 else Status.PARTIAL

    @property
    def missing(self) -> tuple[Requirement, ...]:
        return tuple(r for r in self.requirements if r.outcome is Outcome.MISSING)

    @property
    def satisfied(self) -> bool:
        """Good enough for `--require`: it passes, or it does not apply to this service."""
        return self.status in {Status.PASS, Status.NOT_APPLICABLE}


def mean_score(results: Iterable[StandardResult]) -> float | None:
    scores = [score for result in results if (score := result.score) is not None]
    return sum(scores) / len(scores) if scores else None


@dataclass(frozen=True)
class AreaResult:
    area: Area
    standards: tuple[StandardResult, ...]

    @property
    def score(self) -> float | None:
        return mean_score(self.standards)


@dataclass(frozen=True)
class NotRead:
    """A file the audit could not read (or read only in part), and why."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass(frozen=True)
class RouteAccess:
    """One route the audit found, where it is declared, and who may call it."""

    method: str  # "GET", "GET|POST" or "ANY"
    path: str  # the full path, prefixes applied
    location: Evidence
    business: bool  # False for probes, metrics, docs and static files
    access: str  # authenticated, public, open, undetermined, or infrastructure
    reason: str = ""


@dataclass(frozen=True)
class ServiceProfile:
    """What kind of repository this is, as far as the audit could tell."""

    framework: str  # fastapi, flask, django, starlette, or unknown
    source_files: int
    test_files: int
    template_source: str | None = None  # `_src_path` from .copier-answers.yml
    template_commit: str | None = None  # `_commit`


@dataclass(frozen=True)
class Report:
    repository: str
    profile: ServiceProfile
    results: tuple[StandardResult, ...]
    tool_version: str
    probed_url: str | None = None
    notes: tuple[str, ...] = field(default=())
    not_read: tuple[NotRead, ...] = field(default=())
    routes: tuple[RouteAccess, ...] = field(default=())

    def result(self, standard_id: str) -> StandardResult:
        for result in self.results:
            if result.standard.id == standard_id:
                return result
        raise KeyError(standard_id)

    @property
    def areas(self) -> tuple[AreaResult, ...]:
        by_id = {result.standard.id: result for result in self.results}
        return tuple(
            AreaResult(area, tuple(by_id[s.id] for s in standards_of(area) if s.id in by_id))
            for area in AREAS
        )

    @property
    def scored_results(self) -> tuple[StandardResult, ...]:
        scored = {area.key for area in AREAS if area.scored}
        return tuple(result for result in self.results if result.standard.area in scored)

    @property
    def score(self) -> float:
        """The overall score, 0 to 100 (0 when nothing applies, which never happens in practice)."""
        score = mean_score(self.scored_results)
        return 0.0 if score is None else score * 100

    def count(self, status: Status) -> int:
        return sum(1 for result in self.scored_results if result.status is status)

    def unsatisfied(self, required: Sequence[str]) -> list[str]:
        return [standard for standard in required if not self.result(standard).satisfied]


def known_standard(standard_id: str) -> str:
    """Normalise `sec-3` to `SEC-3`; raise ValueError naming the catalogue for an unknown ID."""
    normalised = standard_id.strip().upper()
    if normalised not in BY_ID:
        raise ValueError(f"unknown standard {standard_id!r}: IDs look like SEC-3 (see --list)")
    return normalised
