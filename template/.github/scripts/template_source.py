"""Where `uvx` gets the template's `goldenpath` command: the release this service is on.

Copier records the template's location (`_src_path`) and release (`_commit`) in
`.copier-answers.yml`; this prints them as the `uvx --from` spec `git+<url>@<ref>`, so the
standards audit is the one of the release the service is on, and moves with `copier update`.
`GOLDENPATH_TEMPLATE` (a repository variable in CI) replaces it when set: a mirror's git URL, or
`goldenpath==X.Y.Z` from a private package index. Standard library only: it runs before
anything is installed.

    python3 .github/scripts/template_source.py          # from=<spec>, for $GITHUB_OUTPUT
    python3 .github/scripts/template_source.py --spec   # <spec>
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

ANSWERS = Path(".copier-answers.yml")
SHORTCUTS = {"gh:": "https://github.com/", "gl:": "https://gitlab.com/"}
# `git describe` of a commit past a tag: v0.2.0-3-gabc1234 (the commit is what to install).
DESCRIBED = re.compile(r"^.+-\d+-g(?P<sha>[0-9a-f]{7,40})$")
SCP_LIKE = re.compile(r"^(?P<user>[\w.-]+)@(?P<host>[\w.-]+):(?P<path>.+)$")


class TemplateSourceError(ValueError):
    """The answers do not say where the template can be installed from."""


def answer(text: str, key: str) -> str | None:
    """A top-level scalar of the answers file (Copier writes plain `key: value` lines)."""
    found = re.search(rf"^{re.escape(key)}:[ \t]*(.*?)[ \t]*$", text, re.MULTILINE)
    if found is None:
        return None
    value = found.group(1)
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        value = value[1:-1]
    return value or None


def git_url(src_path: str) -> str:
    """An URL git can clone in CI, from `_src_path` as Copier records it."""
    for prefix, base in SHORTCUTS.items():
        if src_path.startswith(prefix):
            path = src_path.removeprefix(prefix).removesuffix(".git")
            return f"{base}{path}.git"
    if match := SCP_LIKE.match(src_path):
        return f"ssh://{match['user']}@{match['host']}/{match['path']}"
    if re.match(r"^(git\+)?(https?|ssh|git|file)://", src_path):
        return src_path.removeprefix("git+")
    raise TemplateSourceError(
        f"the template was copied from a local path ({src_path}), which CI cannot reach: set the "
        "repository variable GOLDENPATH_TEMPLATE to its git URL (or run `copier update` from it)"
    )


def ref(commit: str) -> str:
    """The tag, or the commit of a `git describe` string past a tag."""
    match = DESCRIBED.match(commit)
    return match["sha"] if match else commit


def spec(answers_text: str, override: str | None = None) -> str:
    if override:
        return override
    src_path = answer(answers_text, "_src_path")
    commit = answer(answers_text, "_commit")
    if not src_path or not commit:
        raise TemplateSourceError(f"{ANSWERS} lacks _src_path or _commit")
    return f"git+{git_url(src_path)}@{ref(commit)}"


def main(argv: list[str]) -> int:
    try:
        text = ANSWERS.read_text(encoding="utf-8") if ANSWERS.is_file() else ""
        result = spec(text, os.environ.get("GOLDENPATH_TEMPLATE", "").strip() or None)
    except TemplateSourceError as error:
        print(f"::error::{error}", file=sys.stderr)
        return 1
    print(result if "--spec" in argv else f"from={result}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
