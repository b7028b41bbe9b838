"""Which of the template's `_migrations` an update runs, by Copier's own rule.

Copier runs a versioned migration when the update crosses its version (old < version <= new)
and an unversioned one on every update. Reading `_migrations` from the release being applied
and applying that rule names the migrations in the update's pull request before anyone has to
read Copier's output; the output itself (each migration prints what it changed) goes in the
pull request too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from packaging.version import InvalidVersion, Version

from .bounded_yaml import load_document

# The interpreter and template path Copier substitutes: noise when a person reads the command.
INTERPRETER = re.compile(r"^\{\{\s*_copier_python\s*\}\}$")
TEMPLATE_PATH = re.compile(r"\{\{\s*_copier_conf\.src_path\s*\}\}/?")


@dataclass(frozen=True)
class Migration:
    command: str
    version: str | None  # None: runs on every update

    def to_json(self) -> dict[str, str | None]:
        return {"command": self.command, "version": self.version}


def readable_command(command: str | list[Any]) -> str:
    """The command as a person reads it: `hooks/migrations/x.py A B`.

    Drops Copier's interpreter (`{{ _copier_python }}`) and template path prefix.
    """
    parts = command.split() if isinstance(command, str) else [str(part) for part in command]
    if parts and INTERPRETER.match(parts[0]):
        parts = parts[1:]
    return " ".join(TEMPLATE_PATH.sub("", part) for part in parts)


def migrations_run(copier_yml: str, old: Version | None, new: Version) -> list[Migration]:
    """The migrations `copier update` runs going from `old` to `new`, in declaration order.

    Copier runs none when the old version is unknown (a service on a bare commit hash).
    A `copier.yml` past the YAML reader's bounds is a YamlReadError.
    """
    if old is None:
        return []
    config = load_document(copier_yml) or {}
    declared = config.get("_migrations", []) if isinstance(config, dict) else []
    selected = []
    for entry in declared:
        if isinstance(entry, str | list):
            selected.append(Migration(readable_command(entry), None))
            continue
        if not isinstance(entry, dict) or "command" not in entry:
            continue
        version = entry.get("version")
        if version is not None:
            try:
                crossed = old < Version(str(version)) <= new
            except InvalidVersion:
                crossed = False
            if not crossed:
                continue
        selected.append(Migration(readable_command(entry["command"]), version))
    return selected
