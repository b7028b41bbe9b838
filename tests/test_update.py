"""TPL-2: `copier update` for real, in a throwaway copy of this repository with tagged releases.

A service is generated from one release and committed; its team changes it the way teams do;
the template ships the next release; `copier update` must then merge both without conflicts,
run the migrations that the update crosses (once, in the service itself) and no post-copy task,
and leave a service whose own gates pass.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.commands import uv_run
from tests.support.releases import (
    TemplateCopy,
    commit_all,
    copier,
    leftovers,
    lines_naming,
    next_patch,
    recorded_commit,
    working_tree_version,
)

pytestmark = [pytest.mark.update, pytest.mark.slow]

PROJECT = {"project_name": "Update Probe", "database": "sqlite"}
PACKAGE = "update_probe"
POST_COPY_MARK = "post-copy: done"
POST_UPDATE_MARK = "post-update: dependencies re-locked"
MIGRATION_MARK = "migration rename_setting: HEALTH_TIMEOUT_SECONDS -> READINESS_TIMEOUT_SECONDS"


def copy_from(template: TemplateCopy, destination: Path) -> Path:
    data = [f"--data={name}={value}" for name, value in PROJECT.items()]
    generated = copier(
        "copy",
        "--trust",
        "--defaults",
        *data,
        str(template.path),
        str(destination),
        cwd=destination.parent,
    )
    assert POST_COPY_MARK in generated.stderr, generated.stderr
    commit_all(destination, "generated from the template")
    return destination


def update(project: Path) -> str:
    """`copier update` to the newest tag, as a team runs it; returns what it printed."""
    updated = copier("update", "--trust", "--defaults", "--conflict=inline", cwd=project)
    # Tasks never run in the replays `copier update` renders, nor in the project itself.
    assert POST_COPY_MARK not in updated.stderr, updated.stderr
    # Migrations run in the project itself only: exactly once.
    assert updated.stderr.count(POST_UPDATE_MARK) == 1, updated.stderr
    return updated.stderr


# The team's changes ------------------------------------------------------------------------------
# What a team does to its service: a README section, a new domain (its own package, one
# registration in service.py's `domains()`), a setting of its own in settings.py, and a test.
USER_README_SECTION = "\n## On call\n\nPage the orders team in #orders-oncall.\n"
USER_DOMAIN = '''"""Orders: a domain the team added after generation."""

from fastapi import APIRouter
from goldenpath_chassis import Domain
from goldenpath_chassis.security import RequireScopes

router = APIRouter(prefix="/v1/orders", tags=["orders"])


@router.get("", summary="List orders", dependencies=[RequireScopes("orders:read")])
async def list_orders() -> list[str]:
    return []


DOMAIN = Domain(name="orders", routers=(router,), scopes={"orders:read": "read orders"})
'''
USER_REGISTRATION = "    from .orders import DOMAIN as ORDERS  # noqa: PLC0415\n"
USER_SETTING = "    orders_page_size: int = 50\n"
USER_TEST = f"""import pytest

from {PACKAGE}.service import SERVICE
from {PACKAGE}.settings import load_settings

pytestmark = pytest.mark.unit


def test_team_code_survives_the_update() -> None:
    assert [domain.name for domain in SERVICE.domains()] == ["items", "categories", "orders"]
    assert "orders:read" in SERVICE.scopes
    assert load_settings().orders_page_size == 50
"""


def _register_orders(text: str) -> str:
    body = text.replace(
        "    return (ITEMS, CATEGORIES)\n", "    return (ITEMS, CATEGORIES, ORDERS)\n"
    )
    return body.replace(
        "    from .items.domain import DOMAIN as ITEMS  # noqa: PLC0415\n",
        "    from .items.domain import DOMAIN as ITEMS  # noqa: PLC0415\n" + USER_REGISTRATION,
    )


def make_team_changes(project: Path) -> None:
    package = project / "src" / PACKAGE
    readme = project / "README.md"
    readme.write_text(readme.read_text() + USER_README_SECTION)
    (package / "orders.py").write_text(USER_DOMAIN)
    service = package / "service.py"
    registered = _register_orders(service.read_text())
    assert USER_REGISTRATION in registered, "update this test"
    assert "ORDERS)" in registered, "update this test"
    service.write_text(registered)
    settings = package / "settings.py"
    anchor = "    database_backend: ClassVar[DatabaseBackend | None] = DATABASE_BACKEND\n"
    assert anchor in settings.read_text(), "update this test"
    settings.write_text(settings.read_text().replace(anchor, anchor + USER_SETTING))
    (project / "tests" / "unit" / "test_team.py").write_text(USER_TEST)
    commit_all(project, "orders domain")


# The template's next release ------------------------------------------------------------------
RUNBOOK = "template/docs/runbook.md.jinja"
SERVICE_PY = "template/src/{{package_name}}/service.py"
NEW_SERVICE_SUMMARY = '"""The service, declared once: its identity, settings and domains.'
NEW_README_TITLE = "# {{ project_name }} service"


def replace_first_line(text: str, line: str) -> str:
    return line + text[text.index("\n") :]


def make_template_changes(template: TemplateCopy) -> tuple[str, str]:
    """Returns the renamed file's old and new path in a generated project."""
    # A new standard-like file.
    template.file(RUNBOOK).write_text(
        "# Runbook for {{ project_name }}\n\nRestart: `kubectl rollout restart`.\n"
    )
    # Files the team also edited (service.py, README), changed elsewhere than the team did: at
    # the top, where the team registered its domain and appended its section.
    template.edit(SERVICE_PY, lambda text: replace_first_line(text, NEW_SERVICE_SUMMARY))
    template.edit(
        "template/README.md.jinja", lambda text: replace_first_line(text, NEW_README_TITLE)
    )
    # A renamed file: the first plain integration test module.
    folder = template.file("template/tests/integration")
    renamed = min(path for path in folder.glob("test_*.py"))
    renamed.rename(renamed.with_name(f"{renamed.stem}_renamed.py"))
    return (
        f"tests/integration/{renamed.name}",
        f"tests/integration/{renamed.stem}_renamed.py",
    )


def test_tpl2_update_keeps_the_teams_changes_and_applies_the_release(tmp_path: Path) -> None:
    template = TemplateCopy.of_working_tree(tmp_path / "template")
    current = working_tree_version()
    template.release(current, "the working tree")
    project = copy_from(template, tmp_path / "service")
    make_team_changes(project)

    renamed_from, renamed_to = make_template_changes(template)
    next_tag = template.release(next_patch(current), "runbook, renamed test, reworded docs")
    printed = update(project)

    assert not leftovers(project), leftovers(project)
    assert MIGRATION_MARK not in printed, "a migration ran although no version boundary was crossed"
    assert recorded_commit(project) == next_tag
    package = project / "src" / PACKAGE
    service = (package / "service.py").read_text()
    readme = (project / "README.md").read_text()
    # The team's changes are kept...
    assert USER_REGISTRATION in service
    assert USER_SETTING in (package / "settings.py").read_text()
    assert readme.endswith(USER_README_SECTION)
    assert (package / "orders.py").read_text() == USER_DOMAIN
    assert (project / "tests" / "unit" / "test_team.py").read_text() == USER_TEST
    # ...and the release is applied.
    assert service.startswith(NEW_SERVICE_SUMMARY + "\n")
    assert readme.startswith("# Update Probe service\n")
    assert (project / "docs" / "runbook.md").read_text().startswith("# Runbook for Update Probe")
    assert (project / renamed_to).is_file()
    assert not (project / renamed_from).exists()

    # The updated service passes its own gates: lint and unit tests. (Types and the full suites
    # run on freshly generated projects in test_generated_gates.py; here they would only add
    # minutes for what the merge cannot change.)
    commit_all(project, f"update to {next_tag}")
    uv_run(project, "ruff", "check", "--output-format", "concise")
    uv_run(project, "ruff", "format", "--check")
    tests = uv_run(project, "pytest", "-v", "-m", "unit", "--no-cov", "-p", "no:cacheprovider")
    assert "test_team.py::test_team_code_survives_the_update PASSED" in tests.stdout


# The 0.2.0 migration, across its version boundary ----------------------------------------------
OLD, NEW = "HEALTH_TIMEOUT_SECONDS", "READINESS_TIMEOUT_SECONDS"


def as_before_0_2_0(template: TemplateCopy) -> None:
    """The template as 0.1.0 shipped it: the setting under its old name."""
    for path in (template.path / "template").rglob("*"):
        if path.is_file():
            text = path.read_text()
            reverted = "\n".join(
                line if OLD in line else line.replace(NEW, OLD).replace(NEW.lower(), OLD.lower())
                for line in text.split("\n")
            )
            if reverted != text:
                path.write_text(reverted)


def test_tpl2_the_0_2_0_migration_renames_the_setting_once_across_its_boundary(
    tmp_path: Path,
) -> None:
    template = TemplateCopy.of_working_tree(tmp_path / "template")
    as_before_0_2_0(template)
    template.release("0.1.0", "the setting under its old name")
    project = copy_from(template, tmp_path / "service")
    assert lines_naming(project, OLD), "0.1.0 should use the old name"
    # Where teams set it: an ignored .env, a tracked deployment file, and their own code.
    (project / ".env").write_text(f"APP_ENV=development\n{OLD}=3\n")
    (project / "deploy").mkdir(exist_ok=True)  # generated projects ship deploy/k8s/
    (project / "deploy" / "service.env").write_text(f"{OLD}=5\n")
    (project / "src" / PACKAGE / "timeouts.py").write_text(
        "from .settings import Settings\n\n\n"
        "def readiness_budget(settings: Settings) -> float:\n"
        "    return settings.health_timeout_seconds * 2\n"
    )
    commit_all(project, "team configuration")

    # Crossing 0.2.0: the migration runs, once, after the release's files are in place.
    template.restore_working_tree()
    template.release("0.2.0", "READINESS_TIMEOUT_SECONDS")
    printed = update(project)
    assert printed.count(MIGRATION_MARK) == 1, printed
    assert not leftovers(project), leftovers(project)
    assert (project / ".env").read_text() == f"APP_ENV=development\n{NEW}=3\n"
    assert (project / "deploy" / "service.env").read_text() == f"{NEW}=5\n"
    assert (
        "settings.readiness_timeout_seconds * 2"
        in (project / "src" / PACKAGE / "timeouts.py").read_text()
    )
    # The old name survives only where the service lists it as retired (old and new together).
    assert all(NEW in line for line in lines_naming(project, OLD)), lines_naming(project, OLD)
    assert not lines_naming(project, OLD.lower())
    commit_all(project, "update to v0.2.0")

    # Past the boundary the migration does not run again, whatever the files say.
    (project / "docs" / "history.md").write_text(f"Until 0.2.0 we tuned {OLD}.\n")
    commit_all(project, "history")
    template.edit("template/README.md.jinja", lambda text: text + "\n<!-- 0.2.1 -->\n")
    template.release("0.2.1", "a patch release")
    printed = update(project)
    assert MIGRATION_MARK not in printed, printed
    assert OLD in (project / "docs" / "history.md").read_text()
    assert recorded_commit(project) == "v0.2.1"
