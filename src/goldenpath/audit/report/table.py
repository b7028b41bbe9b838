"""The human scorecard: a summary per area with a percentage, then every standard that is not
fully met with what is missing and how to fix it (`--verbose` also shows the evidence of what
passes)."""

from __future__ import annotations

import textwrap

from goldenpath.audit.model import Report, StandardResult, Status

from .json import percent_text

WIDTH = 100
BAR = 10
LABELS = {
    Status.PASS: "PASS",
    Status.PARTIAL: "PARTIAL",
    Status.FAIL: "FAIL",
    Status.NOT_APPLICABLE: "N/A",
    Status.UNDETERMINED: "UNKNOWN",
}
NOT_READ_SHOWN = 10


def _bar(score: float | None) -> str:
    if score is None:
        return " " * BAR
    filled = round(score * BAR)
    return "█" * filled + "░" * (BAR - filled)


def _wrap(text: str, indent: int) -> list[str]:
    return textwrap.wrap(
        text, WIDTH, initial_indent=" " * indent, subsequent_indent=" " * (indent + 2)
    )


def _standard_lines(result: StandardResult, *, verbose: bool) -> list[str]:
    standard = result.standard
    score = (
        ""
        if result.score is None or result.status is Status.PASS
        else f"  {percent_text(result.score)}"
    )
    lines = [f"  {LABELS[result.status]:<8} {standard.id:<7} {standard.title}{score}"]
    if result.status is Status.NOT_APPLICABLE:
        lines += _wrap(f"not applicable: {result.not_applicable}", 19)
        return lines
    for requirement in result.requirements:
        if requirement.met and not verbose:
            continue
        mark = {"met": "✓", "missing": "✗", "could not determine": "?"}.get(
            requirement.outcome.value, "-"
        )
        lines += _wrap(f"{mark} {requirement.name}: {requirement.detail}", 19)
        for evidence in requirement.evidence[: 3 if verbose or not requirement.met else 0]:
            lines += _wrap(f"at {evidence}", 23)
        if requirement.fix:
            lines += _wrap(f"fix: {requirement.fix}", 23)
    if verbose and result.proven_by:
        lines += _wrap(f"proven by {len(result.proven_by)} tests, e.g. {result.proven_by[0]}", 19)
    return lines


def _not_read_lines(report: Report) -> list[str]:
    """Always shown: what the verdicts could not take into account."""
    if not report.not_read:
        return ["Not read: nothing (every file the checks look at was read)"]
    lines = [f"Not read ({len(report.not_read)}): verdicts that depend on these may be wrong"]
    for item in report.not_read[:NOT_READ_SHOWN]:
        lines += _wrap(f"- {item}", 2)
    more = len(report.not_read) - NOT_READ_SHOWN
    if more > 0:
        lines.append(f"  ... and {more} more (--format json lists them all)")
    return lines


def render(report: Report, *, verbose: bool = False, comparison: list[str] | None = None) -> str:
    profile = report.profile
    origin = (
        f"; from {profile.template_source} at {profile.template_commit}"
        if profile.template_source
        else "; not generated from the template"
    )
    lines = [
        f"Standards audit of {report.repository}",
        f"{profile.framework} service, {profile.source_files} modules, {profile.test_files} test "
        f"modules{origin}",
    ]
    if report.probed_url:
        lines.append(f"live checks against {report.probed_url}")
    lines += [
        "",
        f"Overall score {report.score:.1f}%   {report.count(Status.PASS)} pass, "
        f"{report.count(Status.PARTIAL)} partial, {report.count(Status.FAIL)} fail, "
        f"{report.count(Status.NOT_APPLICABLE)} not applicable"
        + (
            f", {report.count(Status.UNDETERMINED)} could not determine"
            if report.count(Status.UNDETERMINED)
            else ""
        ),
        "",
        f"{'AREA':<40} {'SCORE':>7}  {'':<{BAR}}  STANDARDS",
    ]
    for area in report.areas:
        applicable = [r for r in area.standards if r.status is not Status.NOT_APPLICABLE]
        passing = sum(r.status is Status.PASS for r in applicable)
        score = "n/a" if area.score is None else percent_text(area.score)
        note = "" if area.area.scored else "  (not scored)"
        lines.append(
            f"{area.area.title:<40} {score:>7}  {_bar(area.score)}  "
            f"{passing}/{len(applicable)} pass{note}"
        )
    for area in report.areas:
        shown = [
            r
            for r in area.standards
            if verbose
            or r.status in {Status.PARTIAL, Status.FAIL, Status.UNDETERMINED}
            or r.undetermined
        ]
        if not shown:
            continue
        score = "n/a" if area.score is None else percent_text(area.score)
        lines += ["", f"{area.area.title} ({score})"]
        for result in shown:
            lines += _standard_lines(result, verbose=verbose)
    lines += ["", *_not_read_lines(report)]
    if report.notes:
        lines += ["", "Notes:"] + [line for note in report.notes for line in _wrap(f"- {note}", 0)]
    if comparison:
        lines += ["", *comparison]
    return "\n".join(lines) + "\n"
