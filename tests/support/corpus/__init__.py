"""A corpus of sample services that stand for real code, each with the verdicts it must get.

Each sample is written here, file by file, in the shape of a public repository a platform team
meets (full-stack-fastapi-template's backend, Netflix/dispatch, polar's server, a Django + REST
framework service, a Flask + Flask-RESTful service, a project rendered from s3rius's
FastAPI-template); none of their code is copied. The expected verdicts were decided by reading
each sample, and every sample expects verdicts in both directions: things it has (met) and
things it lacks (missing), so an audit that always says yes, or always no, scores badly.

A verdict is one of:
- a route found at its full path (prefixes from routers, mounts, settings and include()),
- the route's access: "authenticated", "public" (an explicit mark), "open" or "undetermined",
  or "infrastructure" for probes, docs and static files that are not business routes,
- a standard's status ("pass", "partial", "fail", "not applicable", "could not determine"),
- a requirement's outcome ("met", "missing", "not applicable", "could not determine"),
- a file the report lists as not read, with the reason.

`judge` audits a sample and returns every verdict with what was expected and what the audit
said; tests/test_audit_corpus.py prints the accuracy and fails on any wrong verdict.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from goldenpath.audit import Report, audit


@dataclass(frozen=True)
class Sample:
    name: str
    shape: str  # the kind of real repository it stands for
    files: Mapping[str, str | Callable[[], str]]  # path -> text (or a function making it)
    framework: str
    routes: Mapping[str, str] = field(default_factory=dict)  # "GET /v1/items" -> access
    standards: Mapping[str, str] = field(default_factory=dict)  # "SEC-3" -> status
    requirements: Mapping[tuple[str, str], str] = field(default_factory=dict)
    not_read: Mapping[str, str] = field(default_factory=dict)  # path -> part of the reason
    audit_path: str = ""  # a subdirectory to audit, as a team auditing one service would

    def write(self, root: Path) -> Path:
        for name, content in self.files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            text = content() if callable(content) else textwrap.dedent(content).lstrip()
            path.write_text(text)
        return root / self.audit_path if self.audit_path else root


@dataclass(frozen=True)
class Verdict:
    sample: str
    subject: str  # what was judged: "route GET /v1/items", "SEC-3", "SEC-3: every route ..."
    expected: str
    actual: str

    @property
    def right(self) -> bool:
        return self.expected == self.actual

    def __str__(self) -> str:
        mark = "ok   " if self.right else "WRONG"
        return f"{mark} {self.sample}: {self.subject}: expected {self.expected}, got {self.actual}"


def _outcome(report: Report, standard: str, requirement: str) -> str:
    result = report.result(standard)
    if result.not_applicable is not None:
        return "not applicable"
    for item in result.requirements:
        if item.name == requirement:
            return item.outcome.value
    return "absent"


def verdicts(sample: Sample, report: Report) -> list[Verdict]:
    """Every expected verdict of `sample` beside what `report` says."""
    found: list[Verdict] = []
    routes = {f"{route.method} {route.path}": route.access for route in report.routes}
    for key, expected in sample.routes.items():
        found.append(Verdict(sample.name, f"route {key}", expected, routes.get(key, "not found")))
    for standard, expected in sample.standards.items():
        status = report.result(standard).status.value
        found.append(Verdict(sample.name, standard, expected, status))
    for (standard, requirement), expected in sample.requirements.items():
        actual = _outcome(report, standard, requirement)
        found.append(Verdict(sample.name, f"{standard}: {requirement}", expected, actual))
    unread = {entry.path: entry.reason for entry in report.not_read}
    for path, reason in sample.not_read.items():
        actual = unread.get(path, "read")
        found.append(
            Verdict(
                sample.name,
                f"not read {path}",
                reason,
                reason if reason in actual else actual,
            )
        )
    found.append(Verdict(sample.name, "framework", sample.framework, report.profile.framework))
    return found


def judge(sample: Sample, root: Path) -> tuple[Report, list[Verdict]]:
    report = audit(sample.write(root))
    return report, verdicts(sample, report)


def samples() -> list[Sample]:
    from . import dispatch, django_drf, flask_restful, fullstack, polar, s3rius  # noqa: PLC0415

    return [
        fullstack.SAMPLE,
        dispatch.SAMPLE,
        polar.SAMPLE,
        django_drf.SAMPLE,
        flask_restful.SAMPLE,
        s3rius.SAMPLE,
    ]
