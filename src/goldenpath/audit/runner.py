"""Run every check on a repository (and, when asked, probe the running service): one Report."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from .catalogue import STANDARDS, Standard
from .checks import REGISTRY, NotApplicable
from .facts import Facts
from .model import (
    Evidence,
    NotRead,
    Outcome,
    Report,
    Requirement,
    RouteAccess,
    ServiceProfile,
    StandardResult,
)
from .probe import ProbeOptions, probe

# What other languages' repositories look like, to say why there is nothing to audit.
OTHER_LANGUAGES = {
    "go.mod": "Go",
    "Cargo.toml": "Rust",
    "package.json": "JavaScript/TypeScript",
    "pom.xml": "Java",
    "build.gradle": "Java/Kotlin",
    "build.gradle.kts": "Kotlin",
    "Gemfile": "Ruby",
    "composer.json": "PHP",
    "mix.exs": "Elixir",
}
PYTHON_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", "Pipfile")


class NothingToAudit(ValueError):
    """The directory holds no Python service: an empty folder, or another language's code."""


def _nothing_to_audit(facts: Facts, path: Path) -> str | None:
    own = [
        p
        for p in facts.repository.files
        if not p.startswith("goldenpath-chassis/") and p not in facts.repository.outer_files
    ]
    if not own:
        return f"nothing to audit: {path} is empty"
    python = [
        p
        for p in own
        if p.endswith((".py", ".pyi"))
        or p.rsplit("/", 1)[-1] in PYTHON_MARKERS
        or p.rsplit("/", 1)[-1].startswith("requirements")
    ]
    if python:
        return None
    others = sorted(
        {
            f"{language} ({name})"
            for p in own
            for name, language in OTHER_LANGUAGES.items()
            if p == name or p.endswith("/" + name)
        }
    )
    found = f"; found {', '.join(others)}" if others else ""
    return f"no Python found in {path}: this audit scores Python services{found}"


def tool_version() -> str:
    try:
        return metadata.version("goldenpath")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def own_release() -> str | None:
    """The template release this audit comes from: the git tag it was installed at, if any,
    else the package's version (`uvx --from git+...@v0.3.0` records the tag it asked for)."""
    try:
        direct = metadata.distribution("goldenpath").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if direct:
        revision = json.loads(direct).get("vcs_info", {}).get("requested_revision", "")
        if re.fullmatch(r"v?\d+(\.\d+)*", revision or ""):
            return str(revision)
    return tool_version()


def _proven_by(facts: Facts, standard: Standard) -> tuple[Evidence, ...]:
    prefix = "test_" + standard.id.replace("-", "").lower() + "_"
    return tuple(e for e in facts.test_functions if e.detail.startswith(prefix))[:10]


def _judge(facts: Facts, standard: Standard) -> StandardResult:
    check = REGISTRY[standard.id]
    try:
        assessment = check(facts)
    except RecursionError:
        return _failed(standard, "the code is nested too deeply for the audit to follow")
    except Exception as error:  # one check's defect must not cost the whole report
        return _failed(standard, f"the check failed: {type(error).__name__}: {error}")
    proven = _proven_by(facts, standard)
    if isinstance(assessment, NotApplicable):
        return StandardResult(standard, not_applicable=assessment.reason, proven_by=proven)
    return StandardResult(standard, tuple(assessment), proven_by=proven)


def _failed(standard: Standard, reason: str) -> StandardResult:
    return StandardResult(
        standard, (Requirement("the whole standard", Outcome.UNDETERMINED, reason),)
    )


def _routes(facts: Facts) -> tuple[RouteAccess, ...]:
    found = []
    for route in facts.routes.all:
        access = facts.access.of(route)
        where = access.where
        found.append(
            RouteAccess(
                route.method,
                route.path,
                route.evidence(),
                not route.is_infrastructure,
                access.kind,
                access.reason + (f" ({where})" if where is not None else ""),
            )
        )
    return tuple(found)


def _not_read(facts: Facts) -> tuple[NotRead, ...]:
    found = [NotRead(path, reason) for path, reason in facts.repository.not_read.items()]
    found += [
        NotRead(
            f"{item.module.path}:{item.line}",
            f"a route whose path is computed at run time ({item.expression})",
        )
        for item in facts.routes.unreadable
    ]
    found += [
        NotRead(
            f"{router.module.path}:{router.call.lineno}",
            f"router `{router.key[1]}` is included nowhere the audit can follow (at run time?): "
            "its routes are listed without the prefix they get",
        )
        for router in facts.routes.orphans
    ]
    return tuple(sorted(found, key=lambda item: item.path))


def audit(
    path: Path,
    *,
    url: str | None = None,
    probe_options: ProbeOptions | None = None,
    current_release: str | None = None,
) -> Report:
    """Audit the repository at `path`; with `url`, also probe the service running there."""
    if not path.is_dir():
        raise NotADirectoryError(f"{path} is not a directory")
    facts = Facts(path, current_release=current_release or own_release())
    empty = _nothing_to_audit(facts, path)
    if empty is not None:
        raise NothingToAudit(empty)
    results = [_judge(facts, standard) for standard in STANDARDS]
    try:
        routes = _routes(facts)
    except RecursionError:
        routes = ()
    notes: list[str] = []
    if facts.code.rewritten:
        notes.append(
            f"{len(facts.code.rewritten)} files use Python 3.14 syntax (`except A, B:`, template "
            "strings); this audit runs on Python "
            f"{sys.version_info.major}.{sys.version_info.minor} and read them through an "
            f"equivalent rewrite: {', '.join(facts.code.rewritten[:3])}"
            + (" and more" if len(facts.code.rewritten) > 3 else "")
        )
    if facts.outer_repository is not None:
        notes.append(
            f"CI workflows and compose files were read from the repository that holds "
            f"{path}: {facts.outer_repository}"
        )
    if facts.chassis is not None:
        notes.append(
            f"goldenpath-chassis {facts.chassis.version or '(version unknown)'} is audited with "
            f"the service: read from {facts.chassis.origin}"
        )
    if url is not None:
        findings = probe(url, facts, probe_options or ProbeOptions())
        notes.extend(findings.notes)
        results = [
            _with_probe(result, findings.requirements.get(result.standard.id, ()))
            for result in results
        ]
    profile = ServiceProfile(
        framework=facts.framework,
        source_files=len(facts.code.modules),
        test_files=len(facts.code.tests),
        template_source=str(facts.answers["_src_path"]) if "_src_path" in facts.answers else None,
        template_commit=str(facts.answers["_commit"]) if "_commit" in facts.answers else None,
    )
    return Report(
        str(path),
        profile,
        tuple(results),
        tool_version(),
        url,
        tuple(notes),
        _not_read(facts),
        routes,
    )


def _with_probe(result: StandardResult, extra: Sequence[Requirement]) -> StandardResult:
    if not extra:
        return result
    return StandardResult(
        result.standard,
        result.requirements + tuple(extra),
        None,  # a live observation makes the standard applicable
        result.proven_by,
    )
