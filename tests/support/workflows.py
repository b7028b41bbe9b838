"""Reading GitHub workflow files, their steps' scripts, and the files Actions hands to steps."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


def load_workflow(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict)
    return loaded


def triggers(workflow: dict[str, Any]) -> dict[str, Any]:
    """The `on:` block (YAML 1.1 reads a bare `on` key as True)."""
    keys: dict[Any, Any] = workflow
    found = keys.get("on", keys.get(True))
    assert isinstance(found, dict)
    return found


def step_named(workflow: dict[str, Any], job: str, name_start: str) -> dict[str, Any]:
    for step in workflow["jobs"][job]["steps"]:
        if str(step.get("name", "")).startswith(name_start):
            return dict(step)
    raise AssertionError(f"{job} has no step named {name_start!r}...")


def read_github_output(path: Path) -> dict[str, str]:
    """`name=value` lines and `name<<DELIMITER ... DELIMITER` blocks, as GitHub parses them."""
    values: dict[str, str] = {}
    lines = iter(path.read_text().splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, _, delimiter = line.partition("<<")
            value = []
            for following in lines:
                if following == delimiter:
                    break
                value.append(following)
            values[name] = "\n".join(value)
        else:
            name, _, value_text = line.partition("=")
            values[name] = value_text
    return values


# GitHub expands `${{ }}` before the shell reads a step's script. actionlint hands shellcheck
# the script with each expression blanked to underscores of its length, so positions hold.
_EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)
_SHELLS = ("bash", "sh")


@dataclass(frozen=True)
class RunScript:
    """One `run:` step's script, as its shell will read it."""

    job: str
    step: str  # the step's name, or its position in the job
    shell: str
    text: str


def run_scripts(workflow: dict[str, Any]) -> list[RunScript]:
    """Every `run:` step that bash or sh runs (bash is GitHub's default on Linux runners),
    each expression blanked."""
    found = []
    default = workflow.get("defaults", {}).get("run", {}).get("shell", "bash")
    for job_name, job in workflow["jobs"].items():
        job_shell = job.get("defaults", {}).get("run", {}).get("shell", default)
        for position, step in enumerate(job.get("steps", []), start=1):
            shell = str(step.get("shell", job_shell)).split()[0]
            if "run" in step and shell in _SHELLS:
                text = _EXPRESSION.sub(lambda match: "_" * len(match.group(0)), step["run"])
                found.append(RunScript(job_name, str(step.get("name", position)), shell, text))
    return found
