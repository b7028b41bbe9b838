"""The fleet view's audit column: one number per service from `goldenpath.audit`.

The audit (issue 9) scores a repository against the standards catalogue. This module is the
only place the fleet view touches it, so the column follows the audit's API in one place.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class AuditScore:
    score: float | None = None  # percent of applicable standards met, 0-100
    note: str | None = None  # why there is no score


def audit_score(repository: Path) -> AuditScore:
    """The audit's overall score for `repository`, or None with the reason."""
    try:
        audit = importlib.import_module("goldenpath.audit")
    except ImportError:
        return AuditScore(note="no score: this goldenpath has no audit command yet (issue 9)")
    raise NotImplementedError(f"wire {audit.__name__} into the fleet view")  # pragma: no cover
