"""The README's own commands, run as a new user runs them: on a clone without tags.

A clone of this repository may have no tags at all (`git clone --no-tags`, a mirror, a fork
before its first release); Copier then takes the newest commit and records its hash. These
helpers make such a clone of the working tree (uncommitted changes included, so the tests prove
what is about to be committed), generate from it with the README's first command exactly as
written, and run the generated README's commands through bash, `$(...)` and all.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from .commands import REPOSITORY, tool_environment, uv_executable
from .releases import GIT_IDENTITY, TemplateCopy, git

FENCE = re.compile(r"```sh\n(?P<body>.*?)```", re.DOTALL)


def untagged_clone(root: Path) -> Path:
    """`git clone` of the working tree, every tag deleted: what a tag-less clone holds."""
    source = TemplateCopy.of_working_tree(root / "source")
    git(source.path, "tag", "v0.0.1-not-a-release")  # a tag the clone must lose
    clone = root / "work" / "goldenpath"
    clone.parent.mkdir(parents=True)
    git(clone.parent, "clone", "--quiet", str(source.path), clone.name)
    for tag in git(clone, "tag", "--list").split():
        git(clone, "tag", "--delete", tag)
    assert not git(clone, "tag", "--list").strip()
    return clone


def shell_lines(markdown: str) -> list[str]:
    """Every command line of the `sh` code blocks, continuation lines joined."""
    lines: list[str] = []
    for block in FENCE.finditer(markdown):
        lines += block["body"].replace("\\\n", " ").splitlines()
    return [line.strip() for line in lines if line.strip()]


def readme_line(markdown: str, needle: str) -> str:
    """The one command line containing `needle`, its trailing `# comment` removed."""
    found = [line for line in shell_lines(markdown) if needle in line]
    assert len(found) == 1, f"expected one command with {needle!r}, found {found}"
    return re.sub(r"\s+#\s.*$", "", found[0])


def generate_as_the_readme_says(clone: Path) -> Path:
    """The template README's first command, run in `clone`; Copier from this environment
    stands in for `uvx copier` (the same Copier, without a download)."""
    command = readme_line((REPOSITORY / "README.md").read_text(), "copier copy")
    words = shlex.split(command)
    assert words[:2] == ["uvx", "copier"], command
    destination = words[-1]
    # PWD stays the test run's: the answers must not depend on it (hooks/answers_path.py).
    env = tool_environment(GIT_IDENTITY)
    completed = subprocess.run(
        [sys.executable, "-m", "copier", *words[2:]],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-8000:]
    return (clone / destination).resolve()


def bash(line: str, cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    """A README line in bash, with `uvx` on PATH and no template override in the environment."""
    env = tool_environment(extra)
    env.pop("GOLDENPATH_TEMPLATE", None)
    uv_folder = str(Path(uv_executable()).parent)
    if shutil.which("uvx", path=env.get("PATH")) is None:
        env["PATH"] = f"{uv_folder}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", line],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
