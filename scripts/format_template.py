"""Format the template's Python sources in place, as the generated projects' ruff would.

Verbatim `.py` files are formatted directly. `.py.jinja` files whose only Jinja is
`{{ package_name }}` are formatted with a placeholder package name and restored; any other
`.jinja` file is left alone (keep those few and small).
Run: `uv run python scripts/format_template.py`.
The template's tests check the rendered result (`ruff format --check` in every generated project).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1] / "template"
PLACEHOLDER = "pkg_placeholder_"
PACKAGE_VARIABLE = "{{ package_name }}"
OTHER_JINJA = re.compile(r"\{\{(?! package_name \}\})|\{%|\{#")
RUFF_OPTIONS = [
    "--line-length=100",
    "--target-version=py313",
    f"--config=lint.isort.known-first-party=['{PLACEHOLDER}']",
    "--config=lint.isort.known-local-folder=['tests']",
]


def ruff(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "ruff", *args], check=False)


def format_paths(paths: list[Path]) -> None:
    if paths:
        names = [str(p) for p in paths]
        ruff("check", "--select=I", "--fix", "--quiet", *RUFF_OPTIONS, *names)
        ruff("format", "--quiet", *RUFF_OPTIONS, *names)


def main() -> int:
    verbatim = sorted(TEMPLATE.rglob("*.py"))
    format_paths(verbatim)
    skipped = []
    with tempfile.TemporaryDirectory() as tmp:
        staged: dict[Path, Path] = {}
        for source in sorted(TEMPLATE.rglob("*.py.jinja")):
            text = source.read_text()
            if OTHER_JINJA.search(text):
                skipped.append(source)
                continue
            copy = Path(tmp) / f"{len(staged)}_{source.name.removesuffix('.jinja')}"
            copy.write_text(text.replace(PACKAGE_VARIABLE, PLACEHOLDER))
            staged[source] = copy
        format_paths(list(staged.values()))
        for source, copy in staged.items():
            formatted = copy.read_text().replace(PLACEHOLDER, PACKAGE_VARIABLE)
            if formatted != source.read_text():
                source.write_text(formatted)
                print(f"formatted {source.relative_to(TEMPLATE)}")
    for source in skipped:
        print(f"left alone (more Jinja than the package name): {source.relative_to(TEMPLATE)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
