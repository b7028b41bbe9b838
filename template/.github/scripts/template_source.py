"""Where `uvx` gets the template's `goldenpath` command: the release this service is on.

Copier records the template's location (`_src_path`) and release (`_commit`) in
`.copier-answers.yml`; this prints them as the `uvx --from` spec `git+<url>@<ref>`, so the
standards audit is the one of the release the service is on, and moves with `copier update`.
`GOLDENPATH_TEMPLATE` (a repository variable in CI) replaces it when set: a mirror's git URL, or
`goldenpath==X.Y.Z` from a private package index. Standard library only: it runs before
anything is installed.

A service generated from a local clone of the template records the clone's path. On the machine
that has the clone, `--spec` installs from it (`git+file://...`); CI cannot reach it, so the CI
forms (and `check`, which the pre-push hook runs) say what to set instead, as
`chassis_source.py` does for the chassis.

    python3 .github/scripts/template_source.py          # CI: from=<spec>, for $GITHUB_OUTPUT
    python3 .github/scripts/template_source.py --spec   # this machine: <spec>
    python3 .github/scripts/template_source.py --update # CI: url=<git URL>, release=<ref>
    python3 .github/scripts/template_source.py check    # exit 1, saying what to set, if local
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ANSWERS = Path(".copier-answers.yml")
SHORTCUTS = {"gh:": "https://github.com/", "gl:": "https://gitlab.com/"}
# `git describe` of a commit past a tag: v0.2.0-3-gabc1234 (the commit is what to install).
DESCRIBED = re.compile(r"^(?P<tag>.+)-\d+-g(?P<sha>[0-9a-f]{7,40})$")
SCP_LIKE = re.compile(r"^(?P<user>[\w.-]+)@(?P<host>[\w.-]+):(?P<path>.+)$")
ADVICE = """\
the template was copied from a local path ({path}), which CI and every other clone of this
repository cannot reach. Before pushing, either
  - point the service at the template's git repository: set `_src_path` in .copier-answers.yml
    to its git URL (for example https://github.com/acme/goldenpath.git), then run
    `copier update --trust --defaults` (goldenpath-chassis then comes from there too); or,
    for the standards audit alone, set the repository variable GOLDENPATH_TEMPLATE to
    git+<the template's git URL>@{ref} (or goldenpath==X.Y.Z from your package index).
The weekly template update needs the first: it runs `copier update` from `_src_path`."""


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


def git_url(src_path: str) -> str | None:
    """An URL git can clone in CI, from `_src_path` as Copier records it; None for a path."""
    for prefix, base in SHORTCUTS.items():
        if src_path.startswith(prefix):
            path = src_path.removeprefix(prefix).removesuffix(".git")
            return f"{base}{path}.git"
    if match := SCP_LIKE.match(src_path):
        return f"ssh://{match['user']}@{match['host']}/{match['path']}"
    if re.match(r"^(git\+)?(https?|ssh|git)://", src_path):
        return src_path.removeprefix("git+")
    return None


def ref(commit: str) -> str:
    """The tag, or the commit of a `git describe` string past a tag."""
    match = DESCRIBED.match(commit)
    return match["sha"] if match else commit


def recorded(answers_text: str) -> tuple[str, str]:
    src_path = answer(answers_text, "_src_path")
    commit = answer(answers_text, "_commit")
    if not src_path or not commit:
        raise TemplateSourceError(f"{ANSWERS} lacks _src_path or _commit")
    return src_path, commit


def local_spec(src_path: str, commit: str) -> str:
    """The clone on this machine, at the service's commit (its working tree, if it lacks it)."""
    clone = Path(src_path.removeprefix("file://")).expanduser()
    if not clone.is_dir():
        raise TemplateSourceError(
            f"the template was copied from {src_path}, which is not on this machine: run this "
            "where that clone is, or set GOLDENPATH_TEMPLATE to git+<the template's git "
            f"URL>@{ref(commit)}"
        )
    clone = clone.resolve()
    has_commit = ["git", "-C", str(clone), "cat-file", "-e", ref(commit) + "^{commit}"]
    found = subprocess.run(has_commit, capture_output=True, check=False)  # noqa: S603 - git, found on PATH
    if found.returncode == 0:
        return f"git+{clone.as_uri()}@{ref(commit)}"
    print(
        f"template_source: {clone} has no commit {ref(commit)} (the service was generated from "
        "uncommitted changes): using the clone's working tree",
        file=sys.stderr,
    )
    return str(clone)


def spec(answers_text: str, override: str | None = None, *, here: bool = False) -> str:
    """The `uvx --from` spec; `here`: on this machine, where a local clone may be reached."""
    if override:
        return override
    src_path, commit = recorded(answers_text)
    url = git_url(src_path)
    if url is not None:
        return f"git+{url}@{ref(commit)}"
    if here:
        return local_spec(src_path, commit)
    raise TemplateSourceError(ADVICE.format(path=src_path, ref=ref(commit)))


def update_outputs(answers_text: str) -> str:
    """For the template-update workflow: the template's git URL and the service's release
    (past a tag, the tag: its `goldenpath update-check` is that release's)."""
    src_path, commit = recorded(answers_text)
    url = git_url(src_path)
    if url is None:
        raise TemplateSourceError(ADVICE.format(path=src_path, ref=ref(commit)))
    described = DESCRIBED.match(commit)
    return f"url={url}\nrelease={described['tag'] if described else commit}"


def check(answers_text: str) -> str:
    src_path, commit = recorded(answers_text)
    if git_url(src_path) is None:
        raise TemplateSourceError(ADVICE.format(path=src_path, ref=ref(commit)))
    return f"template_source: the template comes from {src_path}, which CI can reach."


def main(argv: list[str]) -> int:
    try:
        text = ANSWERS.read_text(encoding="utf-8") if ANSWERS.is_file() else ""
        override = os.environ.get("GOLDENPATH_TEMPLATE", "").strip() or None
        if "check" in argv:
            print(check(text))
        elif "--update" in argv:
            print(update_outputs(text))
        elif "--spec" in argv:
            print(spec(text, override, here=True))
        else:
            print(f"from={spec(text, override)}")
    except TemplateSourceError as error:
        first, _, rest = str(error).partition("\n")
        # GitHub shows an ::error:: line as an annotation; a terminal shows it as it is. A `%`
        # in a path is escaped, or the runner would read `%0A` in it as a line break.
        annotation = f"::error::{first.replace('%', '%25')}"
        print(annotation + (f"\n{rest}" if rest else ""), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
