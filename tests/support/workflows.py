"""Reading GitHub workflow files and the files GitHub Actions hands to steps."""

from __future__ import annotations

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
