"""The JSON report: every verdict with its evidence, stable keys, scores as percentages.

Dashboards and `--compare` read this format; `schema` names its version, and a change that
removes or renames a key must bump it (adding one, as `not_read` and `routes` were, does
not). Scores are rounded to one decimal; `null` means the
standard (or the whole area) does not apply.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from goldenpath.audit.model import Evidence, Report, Requirement, StandardResult, Status

SCHEMA = "goldenpath-audit/1"


def percent(score: float | None) -> float | None:
    return None if score is None else round(score * 100, 1)


def _evidence(item: Evidence) -> dict[str, Any]:
    return {"path": item.path, "line": item.line, "detail": item.detail}


def _requirement(item: Requirement) -> dict[str, Any]:
    return {
        "name": item.name,
        "outcome": item.outcome.value,
        "detail": item.detail,
        "fix": item.fix or None,
        "source": item.source,
        "evidence": [_evidence(e) for e in item.evidence],
    }


def _standard(result: StandardResult) -> dict[str, Any]:
    standard = result.standard
    return {
        "id": standard.id,
        "area": standard.area,
        "title": standard.title,
        "status": result.status.value,
        "score": percent(result.score),
        "not_applicable": result.not_applicable,
        "requirements": [_requirement(r) for r in result.requirements],
        "proven_by": [_evidence(e) for e in result.proven_by],
        "docs": standard.docs,
    }


def to_data(report: Report, comparison: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "tool": {"name": "goldenpath", "version": report.tool_version},
        "repository": report.repository,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "probed_url": report.probed_url,
        "profile": {
            "framework": report.profile.framework,
            "source_files": report.profile.source_files,
            "test_files": report.profile.test_files,
            "template_source": report.profile.template_source,
            "template_commit": report.profile.template_commit,
        },
        "score": round(report.score, 1),
        "summary": {status.value: report.count(status) for status in Status},
        "areas": [
            {
                "key": area.area.key,
                "title": area.area.title,
                "scored": area.area.scored,
                "score": percent(area.score),
                "standards": [result.standard.id for result in area.standards],
            }
            for area in report.areas
        ],
        "standards": [_standard(result) for result in report.results],
        "notes": list(report.notes),
        # Always present: an empty list says every file the checks need was read.
        "not_read": [{"path": item.path, "reason": item.reason} for item in report.not_read],
        "routes": [
            {
                "method": route.method,
                "path": route.path,
                "file": route.location.path,
                "line": route.location.line,
                "business": route.business,
                "access": route.access,
                "reason": route.reason,
            }
            for route in report.routes
        ],
    }
    if comparison is not None:
        data["comparison"] = comparison
    return data


def render(report: Report, comparison: dict[str, Any] | None = None) -> str:
    return json.dumps(to_data(report, comparison), indent=2) + "\n"


def percent_text(score: float) -> str:
    """'87.5%', or '100%' and '0%' without a needless decimal."""
    value = round(score * 100, 1)
    return f"{value:.0f}%" if value in {0, 100} else f"{value:.1f}%"
