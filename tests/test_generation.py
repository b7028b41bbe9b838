"""TPL-1/TPL-3: what `copier copy --trust --defaults` writes, for every supported answer set."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.support.commands import REPOSITORY
from tests.support.projects import CONDITIONAL_FILES, FORBIDDEN_GLOBS, GeneratedProject

# Jinja left in an output file means a template forgot its suffix or a variable is undefined.
# Two other languages use double braces legitimately: GitHub expressions (`${{ ... }}`) and
# Prometheus alert templates (`{{ $value }}`, `{{ $labels.x }}`: a `$` Jinja never starts with).
FOREIGN_EXPRESSION = re.compile(r"\$\{\{.*?\}\}|\{\{\s*\$\w.*?\}\}")
JINJA_MARKUP = re.compile(r"\{\{|\{%|\{#")
BINARY_SUFFIXES = {".png", ".ico", ".woff2", ".lock"}


def committable_files(project: GeneratedProject) -> list[str]:
    """Every file a user would commit (git's view, so caches and the venv are left out)."""
    return subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=project.path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()


def text_files(project: GeneratedProject) -> list[str]:
    return sorted(
        name for name in committable_files(project) if Path(name).suffix not in BINARY_SUFFIXES
    )


def test_tpl1_nothing_is_left_unrendered(project: GeneratedProject) -> None:
    leftovers = []
    for relative in text_files(project):
        text = (project.path / relative).read_text()
        for number, line in enumerate(text.splitlines(), start=1):
            if JINJA_MARKUP.search(FOREIGN_EXPRESSION.sub("", line)):
                leftovers.append(f"{relative}:{number}: {line.strip()}")
    assert not leftovers, "\n".join(leftovers)
    assert not any(name.endswith(".jinja") for name in text_files(project))


def test_tpl1_answers_are_recorded_for_updates(project: GeneratedProject) -> None:
    answers = project.answers
    assert answers["_src_path"]
    assert answers["_commit"]
    assert answers["package_name"] == answers["project_slug"].replace("-", "_")


def test_tpl1_post_copy_tasks_initialise_git_and_lock(project: GeneratedProject) -> None:
    assert (project.path / ".git").is_dir()
    assert (project.path / "uv.lock").is_file()
    assert f'name = "{project.answers["project_slug"]}"' in (project.path / "uv.lock").read_text()
    status = subprocess.run(
        ["git", "status", "--porcelain"],
        cwd=project.path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert status.returncode == 0


def test_tpl1_package_is_named_from_the_answers(project: GeneratedProject) -> None:
    package = project.path / "src" / project.package
    assert (package / "__init__.py").is_file()
    assert (package / "py.typed").is_file()
    generated = (package / "_project.py").read_text()
    assert repr(project.answers["project_name"]).strip("'") in generated
    backend = project.answers["database"]
    assert f'DATABASE_BACKEND: Final[Literal["postgresql", "sqlite"]] = "{backend}"' in generated


# Files that must not be there ------------------------------------------------------------------
# Empty files are legitimate only here; elsewhere an empty file is a whole-file `{% if %}` that
# should have been a conditional file name.
MAY_BE_EMPTY = {"__init__.py", "py.typed", ".gitkeep"}


def test_tpl1_conditional_files_follow_the_answers(project: GeneratedProject) -> None:
    wrong = []
    for conditional in CONDITIONAL_FILES:
        rendered = project.path / conditional.rendered.format(package=project.package)
        expected = conditional.present_when(project.answers)
        if rendered.exists() != expected:
            wrong.append(f"{conditional.rendered}: expected {'present' if expected else 'absent'}")
    assert not wrong, "\n".join(wrong)


def test_tpl1_no_template_machinery_or_update_debris(project: GeneratedProject) -> None:
    found = [
        name
        for name in committable_files(project)
        if any(Path(name).full_match(pattern) for pattern in FORBIDDEN_GLOBS)
    ]
    assert not found, found


def test_tpl1_no_file_renders_empty(project: GeneratedProject) -> None:
    empty = [
        name
        for name in text_files(project)
        if Path(name).name not in MAY_BE_EMPTY and not (project.path / name).read_text().strip()
    ]
    assert not empty, f"rendered empty (use a conditional file name instead): {empty}"


def test_tpl1_every_conditional_name_in_the_template_has_an_expectation() -> None:
    template = REPOSITORY / "template"
    conditional_sources = {
        str(path.relative_to(template)) for path in template.rglob("*") if "{%" in path.name
    }
    declared = {conditional.source for conditional in CONDITIONAL_FILES}
    missing = conditional_sources - declared
    assert not missing, f"add these to CONDITIONAL_FILES in tests/support/projects.py: {missing}"
    assert not declared - conditional_sources, "CONDITIONAL_FILES names files that do not exist"
