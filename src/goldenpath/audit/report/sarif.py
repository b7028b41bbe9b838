"""SARIF 2.1.0 for GitHub code scanning: one rule per standard, one result per missing requirement.

Each result points at the file where the requirement is met or belongs (the Dockerfile line of
an unpinned base image, the route without authentication); a requirement with nothing to point
at is reported on pyproject.toml (or the first file there is). `partialFingerprints` are derived
from the standard and the requirement, so an alert stays the same alert across runs while the
requirement stays missing, and closes when it is met.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from goldenpath.audit.catalogue import AREA_BY_KEY, STANDARDS
from goldenpath.audit.model import Evidence, Report, Requirement, StandardResult, Status

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"


def _rule(index: int) -> dict[str, Any]:
    standard = STANDARDS[index]
    area = AREA_BY_KEY[standard.area]
    return {
        "id": standard.id,
        "name": "".join(word.capitalize() for word in standard.title.replace("-", " ").split()),
        "shortDescription": {"text": f"{standard.id} {standard.title}"},
        "fullDescription": {"text": standard.summary},
        "help": {
            "text": f"{standard.summary} See the template's docs: {standard.docs}",
            "markdown": f"**{standard.id} {standard.title}**: {standard.summary}\n\n"
            f"See `docs/{standard.docs}` in the golden-path template.",
        },
        "defaultConfiguration": {"level": "warning" if area.scored else "note"},
        "properties": {"tags": ["golden-path", area.title], "precision": "high"},
    }


def _location(evidence: tuple[Evidence, ...], fallback: str) -> dict[str, Any]:
    local = next((e for e in evidence if "://" not in e.path and e.path), None)
    path = local.path if local else fallback
    region = {"startLine": local.line if local and local.line else 1}
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"},
            "region": region,
        }
    }


def _result(result: StandardResult, requirement: Requirement, fallback: str) -> dict[str, Any]:
    standard = result.standard
    scored = AREA_BY_KEY[standard.area].scored
    level = "note" if not scored else "error" if result.status is Status.FAIL else "warning"
    text = f"{standard.id} {standard.title}: {requirement.name} is missing: {requirement.detail}."
    if requirement.fix:
        text += f" Fix: {requirement.fix}."
    fingerprint = hashlib.sha256(f"{standard.id}|{requirement.name}".encode()).hexdigest()[:32]
    return {
        "ruleId": standard.id,
        "ruleIndex": [s.id for s in STANDARDS].index(standard.id),
        "level": level,
        "message": {"text": text},
        "locations": [_location(requirement.evidence, fallback)],
        "partialFingerprints": {"goldenpathRequirement/v1": fingerprint},
        "properties": {"requirement": requirement.name, "source": requirement.source},
    }


def to_data(report: Report, *, fallback: str, root_uri: str) -> dict[str, Any]:
    results = [
        _result(result, requirement, fallback)
        for result in report.results
        for requirement in result.missing
    ]
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "goldenpath-audit",
                        "version": report.tool_version,
                        "semanticVersion": report.tool_version,
                        "rules": [_rule(index) for index in range(len(STANDARDS))],
                    }
                },
                "automationDetails": {"id": "goldenpath-audit/"},
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root_uri}},
                "invocations": [
                    {
                        "executionSuccessful": True,
                        # Files the audit could not read: their standards may be misjudged.
                        "toolExecutionNotifications": [
                            {
                                "level": "warning",
                                "message": {"text": f"not read: {item.path}: {item.reason}"},
                                "locations": [
                                    _location((Evidence(item.path.split(":")[0]),), fallback)
                                ],
                            }
                            for item in report.not_read
                        ],
                    }
                ],
                "results": results,
                "properties": {"score": round(report.score, 1)},
            }
        ],
    }


def render(report: Report, *, fallback: str, root_uri: str) -> str:
    return json.dumps(to_data(report, fallback=fallback, root_uri=root_uri), indent=2) + "\n"
