"""CI configuration: GitHub Actions workflows in detail, other CI systems and hooks as text.

GitHub workflows are parsed (jobs, steps, `uses:`, permissions, services); `uses:` lines are
also read as text, because the version comment beside a SHA pin only exists there. GitLab CI,
CircleCI, Jenkins, Azure Pipelines and pre-commit configuration are searched as text, so a
service on another CI system still gets credit for the scanners and gates it runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property
from pathlib import PurePosixPath
from typing import Any

from goldenpath.audit.model import Evidence

from .files import Repository

USES = re.compile(
    r"^\s*(?:-\s+)?uses:\s*['\"]?(?P<action>[^@\s'\"]+)@(?P<ref>[^\s'\"#]+)['\"]?(?P<rest>.*)$"
)
FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s*#\s*v?\d+(\.\d+)*")
OTHER_CI_FILES = (
    ".gitlab-ci.yml",
    ".circleci/config.yml",
    "Jenkinsfile",
    "azure-pipelines.yml",
    "bitbucket-pipelines.yml",
    ".travis.yml",
    ".drone.yml",
    "noxfile.py",
    "tox.ini",
    "Makefile",
    "justfile",
    ".pre-commit-config.yaml",
)


@dataclass(frozen=True)
class Step:
    workflow: str  # path
    job: str
    index: int
    data: dict[str, Any]
    line: int | None
    scripts: str = ""  # the text of repository scripts the step runs (`bash scripts/test.sh`)

    @property
    def uses(self) -> str:
        return str(self.data.get("uses", ""))

    @property
    def run(self) -> str:
        return str(self.data.get("run", ""))

    @property
    def text(self) -> str:
        """Everything the step says: its action, command and inputs, for searching."""
        with_ = self.data.get("with", {})
        inputs = " ".join(f"{k}={v}" for k, v in with_.items()) if isinstance(with_, dict) else ""
        return f"{self.uses} {self.run} {inputs} {self.data.get('name', '')} {self.scripts}"

    def evidence(self, detail: str = "") -> Evidence:
        label = self.data.get("name") or self.uses or self.run.strip().splitlines()[0][:60]
        return Evidence(self.workflow, self.line, f"{self.job}: {label} {detail}".strip())


SCRIPT_WORD = re.compile(r"^(\./)?[\w./-]+\.(sh|bash)$|^(\./)?(scripts|bin)/[\w.-]+$")


@dataclass(frozen=True)
class Workflow:
    path: str
    data: dict[Any, Any]
    text: str
    repository: Repository | None = None
    prefix: str = ""  # where the audited folder sits in the repository the workflow runs in

    def _scripts(self, job: dict[str, Any], step: dict[str, Any]) -> str:
        """The text of the repository's scripts a step runs (and the scripts those run), and
        the pre-commit hooks a `pre-commit run`/`prek run` step runs."""
        if self.repository is None:
            return ""
        defaults = ((job.get("defaults") or {}).get("run") or {}) if isinstance(job, dict) else {}
        folder = str(step.get("working-directory") or defaults.get("working-directory") or "")
        command = f"{step.get('run', '')} {step.get('uses', '')}"
        texts = self._script_texts(command, folder.strip("./"), 0)
        if re.search(r"\b(pre-commit run|prek run|pre-commit/action)", command):
            hooks = self.repository.text(".pre-commit-config.yaml")
            if hooks is not None:
                texts.append(hooks)
        return "\n".join(texts)

    def _script_texts(self, command: str, folder: str, depth: int) -> list[str]:
        assert self.repository is not None
        texts = []
        for raw in command.split():
            word = raw.strip("\"'")
            if depth > 2 or not SCRIPT_WORD.match(word):
                continue
            path = str(PurePosixPath(folder or ".", word.removeprefix("./"))).removeprefix("./")
            if self.prefix:
                if not path.startswith(self.prefix):
                    continue
                path = path[len(self.prefix) :]
            text = self.repository.text(path)
            if text is not None:
                texts.append(text)
                texts += self._script_texts(text, folder, depth + 1)
        return texts

    @property
    def jobs(self) -> dict[str, dict[str, Any]]:
        jobs = self.data.get("jobs", {})
        return (
            {str(k): v for k, v in jobs.items() if isinstance(v, dict)}
            if isinstance(jobs, dict)
            else {}
        )

    @property
    def triggers(self) -> Any:
        return self.data.get("on", self.data.get(True))  # YAML 1.1 reads a bare `on` as true

    def steps(self) -> Iterator[Step]:
        lines = self.text.splitlines()
        cursor = 0
        for job_name, job in self.jobs.items():
            for index, step in enumerate(job.get("steps", []) or []):
                if not isinstance(step, dict):
                    continue
                line = None
                key = step.get("uses") or (str(step.get("run", "")).strip().splitlines() or [""])[0]
                if key:
                    for number in range(cursor, len(lines)):
                        if str(key) in lines[number]:
                            line, cursor = number + 1, number + 1
                            break
                yield Step(self.path, job_name, index, step, line, self._scripts(job, step))


@dataclass(frozen=True)
class UsesLine:
    path: str
    line: int
    action: str
    ref: str
    pinned: bool  # full commit SHA
    versioned: bool  # with a `# vX.Y.Z` comment beside it

    def evidence(self, detail: str = "") -> Evidence:
        return Evidence(self.path, self.line, f"{self.action}@{self.ref[:12]} {detail}".strip())


class ContinuousIntegration:
    def __init__(self, repository: Repository) -> None:
        self._repository = repository

    @cached_property
    def workflows(self) -> tuple[Workflow, ...]:
        found = []
        for path in self._repository.files:
            if path.startswith(".github/workflows/") and path.endswith((".yml", ".yaml")):
                documents = self._repository.yaml_documents(path)
                if documents and isinstance(documents[0], dict):
                    found.append(
                        Workflow(
                            path,
                            documents[0],
                            self._repository.text(path) or "",
                            self._repository,
                            self._repository.outer_prefix
                            if path in self._repository.outer_files
                            else "",
                        )
                    )
                else:
                    self._repository.unread(path, "unparseable YAML: not read as a workflow")
        return tuple(found)

    def steps(self) -> Iterator[Step]:
        for workflow in self.workflows:
            yield from workflow.steps()

    @cached_property
    def uses_lines(self) -> tuple[UsesLine, ...]:
        found = []
        for workflow in self.workflows:
            for number, line in enumerate(workflow.text.splitlines(), start=1):
                match = USES.match(line)
                if match is None or match["action"].startswith(("./", "docker://")):
                    continue
                found.append(
                    UsesLine(
                        workflow.path,
                        number,
                        match["action"],
                        match["ref"],
                        bool(FULL_SHA.match(match["ref"])),
                        bool(VERSION_COMMENT.match(match["rest"])),
                    )
                )
        return tuple(found)

    @cached_property
    def other_files(self) -> tuple[str, ...]:
        present = [path for path in OTHER_CI_FILES if self._repository.exists(path)]
        present += [
            path
            for path in self._repository.files
            if PurePosixPath(path).name in {".gitlab-ci.yml", "Jenkinsfile"} and path not in present
        ]
        return tuple(present)

    def search(self, pattern: str, *, include_hooks: bool = True) -> list[Evidence]:
        """Workflow steps, then other CI files, whose text matches `pattern` (ignoring case)."""
        regex = re.compile(pattern, re.IGNORECASE)
        found = [step.evidence() for step in self.steps() if regex.search(step.text)]
        for path in self.other_files:
            if not include_hooks and path == ".pre-commit-config.yaml":
                continue
            text = self._repository.text(path) or ""
            for number, line in enumerate(text.splitlines(), start=1):
                if regex.search(line):
                    found.append(Evidence(path, number, line.strip()[:80]))
                    break
        return found
