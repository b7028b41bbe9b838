"""The fleet view's audit columns: one number per service and per area, from `goldenpath.audit`.

This module is the only place the fleet view touches the audit, so the columns follow the
audit's API in one place. The audit is given the newest release of the service's template, so
its verdict on being current (TPL-2, reported but never scored) agrees with the fleet's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .audit import audit
from .audit.catalogue import AREAS

# The scored areas, in the audit's own order: the fleet page's columns.
SCORED_AREAS = tuple((area.key, area.title) for area in AREAS if area.scored)


@dataclass(frozen=True)
class AuditScore:
    score: float | None = None  # the audit's overall score, 0-100
    note: str | None = None  # why there is no score
    areas: tuple[tuple[str, float | None], ...] = ()  # (area key, 0-100 or None: not applicable)

    def area(self, key: str) -> float | None:
        return dict(self.areas).get(key)


def audit_score(repository: Path, *, newest_release: str | None = None) -> AuditScore:
    """The audit's overall and per-area scores for `repository`, or the reason it has none.

    Any failure of the audit stays in this service's row: one odd repository must not cost a
    platform team the whole fleet report.
    """
    try:
        report = audit(repository, current_release=newest_release)
    except Exception as error:  # the audit's own errors are many and not ours to enumerate
        return AuditScore(note=f"{repository.name}: the audit failed: {error}")
    scored = {key for key, _ in SCORED_AREAS}
    areas = tuple(
        (result.area.key, None if result.score is None else round(result.score * 100, 1))
        for result in report.areas
        if result.area.key in scored
    )
    return AuditScore(round(report.score, 1), areas=areas)
