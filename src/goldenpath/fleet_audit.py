"""The fleet view's audit column: one number per service, from `goldenpath.audit`.

This module is the only place the fleet view touches the audit, so the column follows the
audit's API in one place. The audit is given the newest release of the service's template, so
its verdict on being current (TPL-2, reported but never scored) agrees with the fleet's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .audit import audit


@dataclass(frozen=True)
class AuditScore:
    score: float | None = None  # the audit's overall score, 0-100
    note: str | None = None  # why there is no score


def audit_score(repository: Path, *, newest_release: str | None = None) -> AuditScore:
    """The audit's overall score for `repository`, or None with the reason it has none.

    Any failure of the audit stays in this service's row: one odd repository must not cost a
    platform team the whole fleet report.
    """
    try:
        report = audit(repository, current_release=newest_release)
    except Exception as error:  # the audit's own errors are many and not ours to enumerate
        return AuditScore(note=f"{repository.name}: the audit failed: {error}")
    return AuditScore(round(report.score, 1))
