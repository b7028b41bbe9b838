"""TPL-1..5, the golden path itself: reported for every service, never part of its score.

A service that never came from the template can meet every standard, so where it came from is
information for the platform team (which services are on the golden path, and how current),
not a defect. TPL-3 and TPL-4 are about the template repository (its CI and docs site) and do
not apply to a service.
"""

from __future__ import annotations

import re

from goldenpath.audit.facts import Facts
from goldenpath.audit.model import Evidence, Requirement

from ._base import Assessment, NotApplicable, check, found, verdict

DESCRIBED = re.compile(r"^v?(?P<version>\d+(\.\d+)*)(-(?P<ahead>\d+)-g[0-9a-f]+)?$")
COMMIT = re.compile(r"^[0-9a-f]{7,40}$")


def release_tuple(value: str) -> tuple[int, ...] | None:
    """(0, 2, 0) for 'v0.2.0', 'v0.2.0-3-gabc1234' or '0.2.0'; None for a bare commit hash
    (even one of digits only, like 3255607: no release is tagged with such a number)."""
    if COMMIT.match(value.strip()):
        return None
    match = DESCRIBED.match(value.strip())
    if match is None:
        return None
    return tuple(int(part) for part in match.group("version").split("."))


def _answers_evidence(facts: Facts, key: str) -> Evidence:
    text = facts.repository.text(".copier-answers.yml") or ""
    return Evidence(
        ".copier-answers.yml",
        facts.repository.line_of(text, f"{key}:"),
        f"{key}: {facts.answers.get(key)}",
    )


@check("TPL-1")
def generated(facts: Facts) -> Assessment:
    source = facts.answers.get("_src_path")
    return [
        found(
            "generated from a Copier template",
            [_answers_evidence(facts, "_src_path")] if source else [],
            met=f"generated from {source}",
            missing="no .copier-answers.yml: the service did not come from the template (or "
            "lost its "
            "link to it)",
            fix="adopt the golden path: generate a service and move the code in, or run "
            "`copier copy` over the repository and resolve the differences",
        )
    ]


@check("TPL-2")
def current(facts: Facts) -> Assessment:
    commit = facts.answers.get("_commit")
    if not commit:
        return NotApplicable("the service records no template release")
    recorded = release_tuple(str(commit))
    evidence = [_answers_evidence(facts, "_commit")]
    if recorded is None:
        return [_on_a_commit(str(commit), facts.current_release, evidence)]
    latest = release_tuple(facts.current_release or "")
    if latest is None:
        return [verdict("on a template release", True, f"on release {commit}", evidence)]
    behind = recorded[:2] < latest[:2]
    return [
        verdict(
            "on the current release line",
            not behind,
            f"on {commit}; the current release is {facts.current_release}"
            if not behind
            else f"on {commit}, behind the current release {facts.current_release}",
            evidence,
            fix="run `copier update` and merge the release's changes",
        )
    ]


def _on_a_commit(commit: str, newest: str | None, evidence: list[Evidence]) -> Requirement:
    """A bare hash: Copier records one for a template with no release tag (a clone made
    without tags, a fork before its first release). Updates compare commits then, so the
    service is on the golden path; only a known newest commit can say it is behind."""
    if newest and COMMIT.match(newest) and not _same_commit(commit, newest):
        return verdict(
            "on the template's newest commit",
            False,
            f"on commit {commit}; the template (untagged: no release tag) is at {newest}",
            evidence,
            fix="run `goldenpath update-preview .` (it counts the commits), then `copier update`",
        )
    return verdict(
        "on a template commit",
        True,
        f"on commit {commit} of a template with no release tag (vX.Y.Z): updates compare "
        "commits, and `goldenpath update-check .` says how many the service is behind",
        evidence,
    )


def _same_commit(one: str, other: str) -> bool:
    """Abbreviated hashes of one commit (their lengths differ between clones)."""
    return one.startswith(other) or other.startswith(one)


@check("TPL-3")
def outputs_tested(facts: Facts) -> Assessment:
    return NotApplicable(
        "about the template repository: its CI generates and tests every answer set"
    )


@check("TPL-4")
def docs(facts: Facts) -> Assessment:
    return NotApplicable("about the template's documentation site, not a service")


# Modules of the chassis that a copy in the service would repeat (the 0.3 layout's `core/`).
_COPIED_CORE = re.compile(r"(^|/)core/(security/)?(rate_limit|resilience|settings|tracing)\.py$")


@check("TPL-5")
def on_the_chassis(facts: Facts) -> Assessment:
    declared = facts.dependencies.find("goldenpath-chassis", runtime_only=True)
    copies = [
        Evidence(path, None, "platform code copied into the service")
        for path in facts.repository.files
        if _COPIED_CORE.search(path) and not path.startswith("goldenpath-chassis/")
    ]
    return [
        found(
            "depends on goldenpath-chassis",
            [d.evidence() for d in declared],
            met="the standards come from the chassis, updated by a version bump",
            missing="the service does not depend on goldenpath-chassis",
            fix="declare goldenpath-chassis and compose it in the app factory (docs/chassis.md)",
        ),
        verdict(
            "no copied platform code",
            not copies,
            "no copy of the chassis's modules in the service"
            if not copies
            else "the service carries its own copy of platform modules",
            copies[:3],
            fix="delete the copies and use the chassis's (docs/updating.md, 0.4.0)",
        ),
    ]
