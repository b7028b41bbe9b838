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


# What the runner reads as a workflow command in a step's output (actions/runner,
# ActionCommand.cs and ActionCommandManager.cs): `::name props::data` once indentation is
# stripped, or the older `##[name props]data` anywhere in a line, for a command it knows.
RUNNER_COMMANDS = frozenset(
    {"warning", "error", "notice", "debug", "group", "endgroup", "add-mask", "echo",
     "set-output", "save-state", "set-env", "add-path", "add-matcher", "remove-matcher",
     "stop-commands"}
)  # fmt: skip
_UNESCAPE_PROPERTY = (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%"))
_UNESCAPE_DATA = (("%0D", "\r"), ("%0A", "\n"), ("%25", "%"))


@dataclass(frozen=True)
class WorkflowCommand:
    name: str
    properties: dict[str, str]
    data: str


def _unescape(text: str, mappings: tuple[tuple[str, str], ...]) -> str:
    for escaped, character in mappings:
        text = text.replace(escaped, character)
    return text


def _parse_command(line: str, known: set[str]) -> WorkflowCommand | None:
    stripped = line.lstrip()
    if stripped.startswith("::") and (end := stripped.find("::", 2)) >= 0:
        name, _, listed = stripped[2:end].partition(" ")
        if name.lower() in known:
            pairs = (item.split("=", 1) for item in listed.strip().split(",") if item)
            properties = {
                pair[0]: _unescape(pair[1], _UNESCAPE_PROPERTY) for pair in pairs if len(pair) == 2
            }
            return WorkflowCommand(name, properties, _unescape(stripped[end + 2 :], _UNESCAPE_DATA))
    if (start := line.find("##[")) >= 0 and (close := line.find("]", start)) >= 0:
        name = line[start + 3 : close].partition(" ")[0]
        if name.lower() in known:
            return WorkflowCommand(name, {}, line[close + 1 :])
    return None


def workflow_commands(output: str) -> list[WorkflowCommand]:
    """The commands the runner would carry out in `output`, a step's lines in the order it read
    them (a line ends at LF, CR or CRLF, as .NET's ReadLine ends it); stopped and resumed as
    `::stop-commands::TOKEN` and `::TOKEN::` say."""
    known = {name.lower() for name in RUNNER_COMMANDS}
    found, stop_token = [], None
    for line in re.split(r"\r\n|\r|\n", output):
        command = _parse_command(line, known | ({stop_token.lower()} if stop_token else set()))
        if command is None:
            continue
        if stop_token is not None:
            if command.name.lower() == stop_token.lower():
                stop_token = None
            continue
        if command.name == "stop-commands":
            stop_token = command.data
            continue
        found.append(command)
    return found


def without_stopping(output: str) -> str:
    """`output` without the `::stop-commands::TOKEN` and `::TOKEN::` lines around its text."""
    token = re.search(r"^::stop-commands::(\S+)$", output, re.MULTILINE)
    if token is None:
        return output
    framing = {f"::stop-commands::{token[1]}", f"::{token[1]}::"}
    return "".join(line for line in output.splitlines(keepends=True) if line.strip() not in framing)


def readings(stdout: str, stderr: str) -> list[str]:
    """The orders in which the runner may read a step's two streams. It reads each on a task
    and into a queue of its own, and on each wake handles stderr's queued lines, then stdout's
    (actions/runner, ProcessInvoker.cs): either stream's lines may come before, between or after
    the other's. Each stream whole on one side of a point in the other."""
    out, err = stdout.splitlines(keepends=True), stderr.splitlines(keepends=True)
    orders = ["".join([*err[:cut], *out, *err[cut:]]) for cut in range(len(err) + 1)]
    return orders + ["".join([*out[:cut], *err, *out[cut:]]) for cut in range(len(out) + 1)]
