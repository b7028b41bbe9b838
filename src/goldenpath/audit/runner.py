"""Run every check on a repository (and, when asked, probe the running service): one Report."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

from .catalogue import STANDARDS, Standard
from .checks import REGISTRY, NotApplicable
from .facts import Facts
from .model import Evidence, Report, Requirement, ServiceProfile, StandardResult
from .probe import ProbeOptions, probe


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
    except Exception as error:
        return StandardResult(
            standard,
            not_applicable=f"the audit could not check this: {type(error).__name__}: {error}",
        )
    proven = _proven_by(facts, standard)
    if isinstance(assessment, NotApplicable):
        return StandardResult(standard, not_applicable=assessment.reason, proven_by=proven)
    return StandardResult(standard, tuple(assessment), proven_by=proven)


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
    results = [_judge(facts, standard) for standard in STANDARDS]
    notes: list[str] = []
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
    return Report(str(path), profile, tuple(results), tool_version(), url, tuple(notes))


def _with_probe(result: StandardResult, extra: Sequence[Requirement]) -> StandardResult:
    if not extra:
        return result
    return StandardResult(
        result.standard,
        result.requirements + tuple(extra),
        None,  # a live observation makes the standard applicable
        result.proven_by,
    )
