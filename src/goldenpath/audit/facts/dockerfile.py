"""Dockerfiles, read the way BuildKit reads them: stages, global ARGs, the final image.

`FROM ${RUNTIME_IMAGE}` with `ARG RUNTIME_IMAGE=default-runtime` and a stage named
`default-runtime` resolves to that stage's base image, so a Dockerfile whose base images are
overridable build arguments is judged by the images it builds with by default.
"""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from goldenpath.audit.model import Evidence

from .files import Repository

_VARIABLE = re.compile(r"\$\{?(\w+)(?::?-([^}]*))?\}?")
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    arguments: str
    line: int

    @property
    def exec_form(self) -> list[str] | None:
        """The JSON array of an exec-form CMD/ENTRYPOINT/RUN, or None for the shell form."""
        text = self.arguments.strip()
        if not text.startswith("["):
            return None
        try:
            parsed = json.loads(text)
        except ValueError:
            return None
        return [str(item) for item in parsed] if isinstance(parsed, list) else None

    @property
    def words(self) -> list[str]:
        form = self.exec_form
        if form is not None:
            return form
        try:
            return shlex.split(self.arguments, comments=False)
        except ValueError:
            return self.arguments.split()


@dataclass
class Stage:
    index: int
    image: str  # as written after variable substitution
    name: str | None
    line: int
    instructions: list[Instruction] = field(default_factory=list)
    base: str = ""  # the external image this stage finally builds on

    def all(self, keyword: str) -> list[Instruction]:
        return [item for item in self.instructions if item.keyword == keyword]

    def last(self, keyword: str) -> Instruction | None:
        found = self.all(keyword)
        return found[-1] if found else None


@dataclass
class Dockerfile:
    path: str
    global_args: dict[str, str]
    stages: list[Stage]
    text: str

    @property
    def final(self) -> Stage | None:
        return self.stages[-1] if self.stages else None

    def evidence(self, line: int | None, detail: str) -> Evidence:
        return Evidence(self.path, line, detail)

    @property
    def external_images(self) -> list[tuple[Stage, str]]:
        """(stage, image) for every FROM that names a registry image, not an earlier stage."""
        names = set()
        found = []
        for stage in self.stages:
            if stage.image not in names and stage.image.lower() != "scratch":
                found.append((stage, stage.image))
            if stage.name:
                names.add(stage.name)
        return found

    def user_of(self, stage: Stage) -> str | None:
        """The user the stage runs as: its last USER, else the user of the stage it builds on."""
        instruction = stage.last("USER")
        if instruction is not None:
            return instruction.arguments.strip()
        for earlier in reversed(self.stages[: stage.index]):
            if earlier.name == stage.image:
                return self.user_of(earlier)
        return None


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Instructions with continuation lines joined and comments dropped, with start lines."""
    lines: list[tuple[int, str]] = []
    buffer: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not buffer and (not stripped or stripped.startswith("#")):
            continue
        if buffer and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if not buffer:
            start = number
        if stripped.endswith("\\"):
            buffer.append(stripped[:-1])
            continue
        buffer.append(stripped)
        lines.append((start, " ".join(part.strip() for part in buffer)))
        buffer = []
    if buffer:
        lines.append((start, " ".join(buffer)))
    return lines


def _substitute(value: str, variables: dict[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        return variables.get(match.group(1)) or match.group(2) or ""

    return _VARIABLE.sub(replace, value)


def parse(path: str, text: str) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line, content in _logical_lines(text):
        keyword, _, arguments = content.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = [word for word in arguments.split() if not word.startswith("--")]
            image = _substitute(words[0], global_args) if words else ""
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(len(stages), image, name, line))
        elif keyword == "ARG" and not stages:
            name, _, default = arguments.strip().partition("=")
            global_args[name.strip()] = default.strip().strip('"')
        elif stages:
            stages[-1].instructions.append(Instruction(keyword, arguments, line))
    by_name = {stage.name: stage for stage in stages if stage.name}
    for stage in stages:
        base, seen = stage.image, set()
        while base in by_name and base not in seen:
            seen.add(base)
            base = by_name[base].image
        stage.base = base
    return Dockerfile(path, global_args, stages, text)


# Words in a path that name an image for a workstation or a showcase, not the one deployed
# (wger's extras/docker/demo/ and development/ beside production/).
_NOT_DEPLOYED = frozenset({"dev", "devel", "development", "demo", "example", "examples", "local"})


def _is_devcontainer(path: str) -> bool:
    return ".devcontainer" in PurePosixPath(path).parts


def _names_development(path: str) -> bool:
    return not _NOT_DEPLOYED.isdisjoint(re.split(r"[/._-]", path.lower()))


def _starts_something(dockerfile: Dockerfile) -> bool:
    """Whether the final image says what it runs (CMD or ENTRYPOINT, in its stage or a stage of
    the file it builds on): a base image for other Dockerfiles says nothing."""
    stage = dockerfile.final
    while stage is not None:
        if stage.all("CMD") or stage.all("ENTRYPOINT"):
            return True
        stage = next((s for s in dockerfile.stages[: stage.index] if s.name == stage.image), None)
    return False


def find_dockerfiles(repository: Repository) -> list[Dockerfile]:
    """Every Dockerfile or Containerfile, the service's image first: one that starts something
    before a base image, one for a deployment before a development or demo one, the one at the
    root before deeper ones; a development container's (`.devcontainer/`, the editor's
    workspace, never deployed) last."""
    paths = [
        path
        for path in repository.files
        if re.match(
            r"^(Dockerfile|Containerfile)(\..+)?$|.+\.(Dockerfile|Containerfile)$",
            PurePosixPath(path).name,
        )
        and not path.endswith((".jinja", ".j2", ".md"))
        and not Repository.is_test_path(path)
    ]
    found = []
    for path in paths:
        text = repository.text(path)
        if text is not None:
            parsed = parse(path, text)
            if parsed.stages:
                found.append(parsed)
    found.sort(
        key=lambda dockerfile: (
            _is_devcontainer(dockerfile.path),
            not _starts_something(dockerfile),
            _names_development(dockerfile.path),
            dockerfile.path.count("/"),
            dockerfile.path,
        )
    )
    return found
