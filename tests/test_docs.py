"""TPL-4: the docs site builds strictly and documents every standard honestly."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.support.commands import REPOSITORY, run
from tests.support.projects import GeneratedProject

DOCS = REPOSITORY / "docs"
STANDARDS = DOCS / "standards"
# The catalogue's IDs are stable (see docs/standards/index.md).
CATALOGUE = (
    *(f"INF-{n}" for n in (1, 2, 3)),
    *(f"SEC-{n}" for n in (1, 2, 3, 4, 5, 6)),
    *(f"OBS-{n}" for n in (1, 2, 3, 4)),
    *(f"DB-{n}" for n in (1, 2, 3, 4)),
    *(f"PERF-{n}" for n in (1, 2, 3)),
    *(f"TEST-{n}" for n in (1, 2, 3)),
    *(f"CFG-{n}" for n in (1, 2)),
    *(f"RES-{n}" for n in (1, 2)),
    *(f"API-{n}" for n in (1, 2, 3)),
    *(f"OPS-{n}" for n in (1, 2, 3)),
    *(f"ARCH-{n}" for n in (1, 2, 3)),
    *(f"TPL-{n}" for n in (1, 2, 3, 4, 5)),
)
FIVE_PARTS = (
    "**What.**",
    "**Why.**",
    "**Where it lives.**",
    "**Change it or turn it off.**",
    "**How it is tested.**",
)
BEING_BUILT = '!!! note "Being built in issue '
# | ID | standard | ships or being built (issue N) | [Page](page.md#anchor) |
ROW = re.compile(
    r"^\| ([A-Z]+-\d+) \| [^|]+ \| (ships|being built \(issue \d+\)) \| "
    r"\[[^]]+\]\(([\w-]+\.md)#([\w-]+)\) \|$"
)
SECTION = re.compile(r"^## ([A-Z]+-\d+) .*\{#([\w-]+)\}$", re.MULTILINE)


def catalogue_rows() -> dict[str, tuple[str, str, str]]:
    rows = {}
    for line in (STANDARDS / "index.md").read_text().splitlines():
        if found := ROW.match(line):
            standard, status, page, anchor = found.groups()
            rows[standard] = (status, page, anchor)
    return rows


def sections(page: Path) -> dict[str, str]:
    """`## ID title {#anchor}` sections of a page: anchor -> text up to the next section."""
    text = page.read_text()
    found = list(SECTION.finditer(text))
    result = {}
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(text)
        assert match.group(2) == match.group(1).lower(), f"{page.name}: anchor of {match.group(1)}"
        result[match.group(2)] = text[match.start() : end]
    return result


def test_tpl4_the_site_builds_with_strict_checks(tmp_path: Path) -> None:
    mkdocs = Path(sys.executable).parent / "mkdocs"
    completed = run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPOSITORY,
        env={"NO_MKDOCS_2_WARNING": "1"},
    )
    assert "WARNING" not in completed.stderr, completed.stderr
    assert (tmp_path / "standards" / "infrastructure" / "index.html").is_file()
    changelog = (tmp_path / "changelog" / "index.html").read_text()
    assert "READINESS_TIMEOUT_SECONDS" in changelog, "CHANGELOG.md is not included"


def test_tpl4_every_standard_has_one_honest_section() -> None:
    rows = catalogue_rows()
    assert list(rows) == list(CATALOGUE)
    all_sections = {
        anchor: (page.name, text)
        for page in STANDARDS.glob("*.md")
        for anchor, text in sections(page).items()
    }
    assert sorted(all_sections) == sorted(standard.lower() for standard in CATALOGUE)
    problems = []
    for standard, (status, page, anchor) in rows.items():
        where, text = all_sections[anchor]
        if where != page:
            problems.append(f"{standard}: the catalogue links {page}, the section is in {where}")
        if status == "ships":
            missing = [part for part in FIVE_PARTS if part not in text]
            if missing or BEING_BUILT in text:
                problems.append(
                    f"{standard} ships, but its section is a placeholder or lacks {missing}"
                )
        elif BEING_BUILT not in text or any(part in text for part in FIVE_PARTS):
            problems.append(
                f"{standard} is being built: its section must be the marked placeholder only"
            )
    assert not problems, "\n".join(problems)


def test_tpl4_what_the_service_lists_as_shipped_is_documented_as_shipped() -> None:
    listed = re.findall(
        r"^\| ([A-Z]+-\d+) \|",
        (REPOSITORY / "template" / "docs" / "standards.md.jinja").read_text(),
        re.MULTILINE,
    )
    assert listed
    rows = catalogue_rows()
    not_documented = [standard for standard in listed if rows[standard][0] != "ships"]
    assert not not_documented, (
        f"{not_documented} are listed in the generated docs/standards.md: fill in their sections "
        "in docs/standards/ and mark them 'ships' in docs/standards/index.md"
    )


# A path in the service's standards table: `file`, a folder, or `file::test_name*`.
CODE_SPAN = re.compile(r"`([^`\s]+/[^`\s]*)`")


def test_tpl4_the_services_standards_table_names_files_and_tests_that_exist(
    project: GeneratedProject,
) -> None:
    """Every file, folder and test the generated docs/standards.md points to is there: in the
    service, in this repository (the chassis's and the template's tests), or in the chassis's
    package (`goldenpath_chassis/...`, `_core/...`); a test named with `::` is defined there."""
    chassis = REPOSITORY / "chassis" / "src"
    roots = (
        project.path,
        project.path / "src" / project.package,
        REPOSITORY,
        chassis,
        chassis / "goldenpath_chassis",
    )
    text = (project.path / "docs" / "standards.md").read_text()
    problems = []
    for reference in CODE_SPAN.findall(text):
        path, _, test = reference.partition("::")
        if path.startswith("http") or "..." in path or "<" in path:
            continue  # a link, or a placeholder for the team's own code
        found = [root / path for root in roots if (root / path).exists()]
        if not found:
            problems.append(f"{reference}: no such file or folder")
        elif test and not any(
            f.is_file() and re.search(rf"def {re.escape(test.rstrip('*'))}", f.read_text())
            for f in found
        ):
            problems.append(f"{reference}: no such test")
    assert not problems, problems


def first_shell_block(path: Path) -> str:
    found = re.search(r"```sh\n(.*?)```", path.read_text(), re.DOTALL)
    assert found, f"{path.name} has no sh block"
    return found.group(1)


@pytest.mark.parametrize("page", ["index.md", "getting-started.md"])
def test_tpl4_the_two_commands_are_the_readmes(page: str) -> None:
    readme = first_shell_block(REPOSITORY / "README.md")
    assert readme.splitlines()[0].startswith("uvx copier copy --trust --defaults")
    assert readme.splitlines()[1].startswith("uv run pytest")
    assert first_shell_block(DOCS / page) == readme
