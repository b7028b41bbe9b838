"""Regenerate `template/openapi.json.jinja`, the OpenAPI snapshot every generated project ships.

Run after changing the generated API: `uv run python scripts/refresh_openapi_snapshot.py`.
It renders a project with the default answers, asks its app for the document, and puts the
answer-dependent strings (title, description, the package in a command) back as Jinja
expressions. The generated projects' own snapshot test (tests/contract/test_openapi_snapshot.py)
fails until this has been run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from copier import run_copy

REPOSITORY = Path(__file__).resolve().parents[1]
SNAPSHOT = REPOSITORY / "template" / "openapi.json.jinja"
ANSWERS = {
    "project_name": "Snapshot Service",
    "description": "Snapshot Service: a production-ready Python service.",
}


def main() -> int:
    uv = os.environ.get("UV", "uv")
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "project"
        run_copy(
            str(REPOSITORY), str(project), data=ANSWERS, defaults=True, unsafe=True,
            quiet=True, vcs_ref="HEAD",  # the tasks build the chassis wheel the project uses
        )  # fmt: skip
        subprocess.run([uv, "sync", "--quiet"], cwd=project, check=True)
        document = subprocess.run(
            [uv, "run", "python", "-m", "snapshot_service", "openapi"],
            cwd=project, check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
    replacements = {
        json.dumps(ANSWERS["project_name"]): "{{ project_name_quoted }}",
        json.dumps(ANSWERS["description"]): "{{ description_quoted }}",
        "python -m snapshot_service ": "python -m {{ package_name }} ",
    }
    for literal, expression in replacements.items():
        if literal not in document:
            print(f"{literal} not found in the document", file=sys.stderr)
            return 1
        document = document.replace(literal, expression)
    SNAPSHOT.write_text(document)
    print(f"wrote {SNAPSHOT.relative_to(REPOSITORY)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
