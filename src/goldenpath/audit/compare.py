"""`--compare previous.json`: what changed since an earlier JSON report of the same service.

A standard improved when its score went up (or it started to pass), regressed when it went
down; one that started or stopped applying is listed apart, since its score did not move so
much as appear or disappear. Only the JSON reports are compared, so an old report from an
older audit still works as long as its schema is the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .report.json import SCHEMA


class ComparisonError(ValueError):
    """The previous report cannot be read or is not an audit JSON report."""


def load_previous(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ComparisonError(f"cannot read {path}: {error.strerror or error}") from error
    except ValueError as error:
        raise ComparisonError(f"{path} is not JSON: {error}") from error
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise ComparisonError(
            f"{path} is not a goldenpath audit JSON report (schema {found!r}, expected "
            f"{SCHEMA!r}); "
            "write one with --format json"
        )
    if problem := _malformed(data):
        raise ComparisonError(f"{path} is not a whole audit JSON report: {problem}")
    return data


def _is_score(value: object, *, nullable: bool = False) -> bool:
    if value is None:
        return nullable
    return isinstance(value, int | float) and not isinstance(value, bool)


def _objects(value: object, keys: tuple[str, ...]) -> bool:
    """A list of objects that each hold `keys`."""
    return isinstance(value, list) and all(
        isinstance(item, dict) and all(key in item for key in keys) for item in value
    )


def _malformed(data: dict[str, Any]) -> str | None:
    """What `compare` would trip on in a report whose schema is right, or None."""
    if not _is_score(data.get("score")):
        return f"`score` is {data.get('score')!r}, not a number"
    standards = data.get("standards")
    if not _objects(standards, ("id", "title", "status", "score")):
        return "`standards` is not a list of objects with `id`, `title`, `status` and `score`"
    assert isinstance(standards, list)
    for standard in standards:
        if not _is_score(standard["score"], nullable=True):
            return f"standard {standard['id']!r}: `score` is {standard['score']!r}, not a number"
        if not _objects(standard.get("requirements", []), ("name", "outcome")):
            return f"standard {standard['id']!r}: `requirements` is not a list of objects"
    if not _objects(data.get("areas", []), ("key", "score")) or not isinstance(
        data.get("tool", {}), dict
    ):
        return "`areas` is not a list of objects with `key` and `score`, or `tool` no object"
    return None


def _by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in data.get("standards", []) if isinstance(item, dict)}


def compare(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    before, after = _by_id(previous), _by_id(current)
    improved, regressed, applicability = [], [], []
    for standard_id, now in after.items():
        then = before.get(standard_id)
        if then is None:
            applicability.append(
                {"id": standard_id, "title": now["title"], "change": "new in the catalogue"}
            )
            continue
        entry = {
            "id": standard_id,
            "title": now["title"],
            "before": {"status": then["status"], "score": then["score"]},
            "after": {"status": now["status"], "score": now["score"]},
        }
        if (then["score"] is None) != (now["score"] is None):
            entry["change"] = "now applies" if then["score"] is None else "no longer applies"
            applicability.append(entry)
        elif then["score"] is not None and now["score"] > then["score"]:
            improved.append(entry)
        elif then["score"] is not None and now["score"] < then["score"]:
            was = {r["name"] for r in then.get("requirements", []) if r["outcome"] == "missing"}
            entry["newly_missing"] = [
                r["name"]
                for r in now.get("requirements", [])
                if r["outcome"] == "missing" and r["name"] not in was
            ]
            regressed.append(entry)
    previous_areas = {area["key"]: area["score"] for area in previous.get("areas", [])}
    return {
        "previous": {
            "generated_at": previous.get("generated_at"),
            "score": previous.get("score"),
            "tool_version": previous.get("tool", {}).get("version"),
        },
        "score_change": round(current["score"] - float(previous.get("score") or 0), 1),
        "areas": [
            {"key": area["key"], "before": previous_areas.get(area["key"]), "after": area["score"]}
            for area in current["areas"]
            if previous_areas.get(area["key"]) != area["score"]
        ],
        "improved": improved,
        "regressed": regressed,
        "applicability": applicability,
    }


def _score(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}%"


def describe(comparison: dict[str, Any]) -> list[str]:
    """The comparison as lines for the scorecard."""
    previous = comparison["previous"]
    change = comparison["score_change"]
    lines = [
        f"Since the report of {previous['generated_at'] or 'an unknown date'}: overall "
        f"{_score(previous['score'])} -> "
        f"{_score(previous['score'] + change if previous['score'] is not None else None)}"
        f" ({change:+g} points)",
    ]
    for label, key in (("Regressed", "regressed"), ("Improved", "improved")):
        for entry in comparison[key]:
            missing = entry.get("newly_missing") or []
            detail = f"; now missing: {', '.join(missing)}" if missing else ""
            lines.append(
                f"  {label:<10} {entry['id']:<7} {entry['title']}: "
                f"{entry['before']['status']} {_score(entry['before']['score'])} -> "
                f"{entry['after']['status']} {_score(entry['after']['score'])}{detail}"
            )
    for entry in comparison["applicability"]:
        lines.append(f"  {'Changed':<10} {entry['id']:<7} {entry['title']}: {entry['change']}")
    if len(lines) == 1:
        lines.append("  no standard changed")
    return lines
