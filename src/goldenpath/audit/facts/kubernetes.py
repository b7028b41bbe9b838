"""Kubernetes manifests in the repository: plain YAML and kustomize bases, objects by kind.

Helm chart templates are not YAML until rendered; for them the audit falls back to the text
(`kind: HorizontalPodAutoscaler` in `templates/`), which is enough to say a chart ships one.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from goldenpath.audit.model import Evidence

from .files import Repository

WORKLOAD_KINDS = frozenset({"Deployment", "StatefulSet", "DaemonSet", "Rollout"})
_NOT_MANIFESTS = (".github/", ".pre-commit", "compose", "docker-compose", "mkdocs", ".gitlab-ci")
_KIND = re.compile(r"^kind:\s*(\w+)", re.MULTILINE)


@dataclass(frozen=True)
class KubeObject:
    path: str
    kind: str
    name: str
    data: dict[str, Any]
    line: int | None

    def evidence(self, detail: str = "") -> Evidence:
        return Evidence(self.path, self.line, f"{self.kind}/{self.name} {detail}".strip())

    @property
    def pod_spec(self) -> dict[str, Any]:
        spec = self.data.get("spec", {}) or {}
        if self.kind == "CronJob":
            spec = spec.get("jobTemplate", {}).get("spec", {}) or {}
        template = spec.get("template", {}) or {}
        pod = template.get("spec", {}) if isinstance(template, dict) else {}
        return pod if isinstance(pod, dict) else {}

    def containers(self) -> Iterator[dict[str, Any]]:
        for container in self.pod_spec.get("containers", []) or []:
            if isinstance(container, dict):
                yield container


class Kubernetes:
    def __init__(self, repository: Repository) -> None:
        self._repository = repository

    @cached_property
    def objects(self) -> tuple[KubeObject, ...]:
        found: list[KubeObject] = []
        for path in self._repository.matching(".yaml", ".yml"):
            if path.startswith(_NOT_MANIFESTS) or any(part in path for part in _NOT_MANIFESTS[2:]):
                continue
            text = self._repository.text(path) or ""
            if "apiVersion" not in text or "kind" not in text:
                continue
            kinds = iter(_KIND.finditer(text))
            counted_to, line_there = 0, 1  # lines counted on from the last object, not from 0
            for document in self._repository.yaml_documents(path):
                if not isinstance(document, dict) or "kind" not in document:
                    continue
                items = document.get("items") if document["kind"] == "List" else [document]
                for item in items or []:
                    if not isinstance(item, dict) or "apiVersion" not in item:
                        continue
                    match = next(kinds, None)
                    line = None
                    if match:
                        line_there += text.count("\n", counted_to, match.start())
                        counted_to, line = match.start(), line_there
                    name = str((item.get("metadata") or {}).get("name", "?"))
                    found.append(KubeObject(path, str(item.get("kind")), name, item, line))
        return tuple(found)

    def of_kind(self, *kinds: str) -> list[KubeObject]:
        return [item for item in self.objects if item.kind in kinds]

    @property
    def workloads(self) -> list[KubeObject]:
        return self.of_kind(*WORKLOAD_KINDS)

    @cached_property
    def chart_templates(self) -> dict[str, str]:
        """Helm templates (not YAML before rendering): path -> text."""
        charts = {
            path.rsplit("/", 1)[0] for path in self._repository.files if path.endswith("Chart.yaml")
        }
        return {
            path: self._repository.text(path) or ""
            for path in self._repository.files
            if any(path.startswith(f"{chart}/templates/") for chart in charts if chart)
            or (("" in charts) and path.startswith("templates/"))
        }

    def template_kinds(self, kind: str) -> list[Evidence]:
        found = []
        for path, text in self.chart_templates.items():
            line = Repository.line_of(text, f"kind: {kind}")
            if line is not None:
                found.append(Evidence(path, line, f"kind: {kind} (Helm template)"))
        return found

    @property
    def present(self) -> bool:
        return bool(self.workloads or self.chart_templates)
