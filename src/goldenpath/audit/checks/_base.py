"""What a check is, and the few helpers every check uses to state its verdicts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from goldenpath.audit.facts import Facts
from goldenpath.audit.model import Evidence, Outcome, Requirement

MAX_EVIDENCE = 5


@dataclass(frozen=True)
class NotApplicable:
    """The whole standard does not apply to this service, and why."""

    reason: str


Assessment = list[Requirement] | NotApplicable
Check = Callable[[Facts], Assessment]
REGISTRY: dict[str, Check] = {}


def check(standard_id: str) -> Callable[[Check], Check]:
    """Register `function` as the static check of `standard_id` (one per standard)."""

    def register(function: Check) -> Check:
        if standard_id in REGISTRY:
            raise ValueError(f"two checks for {standard_id}")
        REGISTRY[standard_id] = function
        return function

    return register


def unique(evidence: Sequence[Evidence]) -> tuple[Evidence, ...]:
    """`evidence` without repeats (two facts often point at the same line), in order."""
    return tuple(dict.fromkeys(evidence))


def found(
    name: str,
    evidence: Sequence[Evidence],
    *,
    met: str,
    missing: str,
    fix: str,
    where: Sequence[Evidence] = (),
) -> Requirement:
    """Met when `evidence` is non-empty; otherwise missing, pointing at `where` it belongs."""
    if evidence:
        return Requirement(name, Outcome.MET, met, unique(evidence)[:MAX_EVIDENCE])
    return Requirement(name, Outcome.MISSING, missing, unique(where)[:MAX_EVIDENCE], fix)


def verdict(
    name: str,
    ok: bool,
    detail: str,
    evidence: Sequence[Evidence] = (),
    *,
    fix: str = "",
) -> Requirement:
    """Met or missing as `ok` says, with the same detail and evidence either way."""
    return Requirement(
        name,
        Outcome.MET if ok else Outcome.MISSING,
        detail,
        unique(evidence)[:MAX_EVIDENCE],
        "" if ok else fix,
    )


def undetermined(name: str, reason: str, evidence: Sequence[Evidence] = ()) -> Requirement:
    """A requirement the code cannot decide (it counts neither way), and why."""
    return Requirement(name, Outcome.UNDETERMINED, reason, unique(evidence)[:MAX_EVIDENCE])


def skipped(name: str, reason: str) -> Requirement:
    """A requirement that does not apply here (and so does not count either way)."""
    return Requirement(name, Outcome.NOT_APPLICABLE, reason)


def only_if(condition: bool, reason: str, requirement: Requirement) -> Requirement:
    """`requirement`, or skipped for `reason` when there is nothing it could be judged on (an
    absence proves nothing in a repository with no code to look at)."""
    return requirement if condition else skipped(requirement.name, reason)


def listing(evidence: Sequence[Evidence], limit: int = 3) -> str:
    shown = ", ".join(str(item) for item in evidence[:limit])
    more = len(evidence) - limit
    return f"{shown} (+{more} more)" if more > 0 else shown
