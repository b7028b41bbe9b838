"""Record a local template as an absolute path in a freshly generated service's answers.

`copier copy . ../acme-orders` (the README's first command) records `_src_path: .`: relative to
the directory Copier ran in, which no later command knows. From the service, `.` is the service
itself, so `copier update`, `goldenpath update-check` and `.github/scripts/template_source.py`
would all look for the template in the wrong place. This rewrites it as the clone's absolute
path. URLs and absolute paths are left as they are. Standard library only, like every hook.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
ANSWERS = ".copier-answers.yml"
SRC_PATH = re.compile(r"^_src_path:[ \t]*(?P<value>.*?)[ \t]*$", re.MULTILINE)
# What Copier accepts as a remote source (see copier's `get_repo`); anything else is a path.
REMOTE = re.compile(r"^(git\+|gh:|gl:|[\w.+-]+://|[\w.-]+@[\w.-]+:)")
PLAIN = re.compile(r"^[\w./@+~-]+$")


def _unquoted(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def original_template(relative: str, template: Path = TEMPLATE) -> Path | None:
    """The template `relative` named when Copier ran. A git template is read from a clone
    Copier made, whose `origin` is the original (git records a local source as an absolute
    path); a folder that is no git repository is used in place. Last, Copier's own directory
    is PWD in its environment."""
    candidates = []
    if (template / ".git").exists():
        origin = subprocess.run(
            ["git", "-C", str(template), "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        if origin:
            candidates.append(Path(origin))
    else:
        candidates.append(template)
    if pwd := os.environ.get("PWD"):
        candidates.append(Path(pwd) / relative)
    for path in candidates:
        if path.is_absolute() and (path / "copier.yml").is_file():
            return path.resolve()
    return None


def pin_template_path(project: Path, template: Path = TEMPLATE) -> Path | None:
    """Rewrite a relative `_src_path` as an absolute one; return it (None: nothing changed)."""
    answers = project / ANSWERS
    if not answers.is_file():
        return None
    text = answers.read_text(encoding="utf-8")
    found = SRC_PATH.search(text)
    if found is None:
        return None
    value = _unquoted(found["value"])
    if not value or REMOTE.match(value) or Path(value).expanduser().is_absolute():
        return None
    absolute = original_template(value, template)
    if absolute is None:
        print(
            f"post-copy: WARNING: `_src_path: {value}` in {ANSWERS} is relative to where Copier "
            "ran; write the template's absolute path there before `copier update`.",
            file=sys.stderr,
        )
        return None
    written = str(absolute)
    if not PLAIN.match(written):
        written = "'" + written.replace("'", "''") + "'"  # YAML's single-quoted scalar
    answers.write_text(
        text[: found.start("value")] + written + text[found.end("value") :], encoding="utf-8"
    )
    return absolute
