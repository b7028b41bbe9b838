"""TPL-2, TPL-5: a service generated from 0.3 (platform code copied in) updates to the chassis.

The 0.3 release is rebuilt from this repository's history (the tree before `core/` moved into
the chassis), tagged v0.3.0 in a throwaway copy, and the working tree becomes v0.4.0. The team
changed its 0.3 service the ways teams do: a new domain registered in `api.py` and
`models.py`, a setting added to `core/settings.py`, a middleware option changed in `app.py`.
`copier update` must then leave no conflict, carry the team's changes to their new homes (or,
for the middleware option, into the migration's report), and leave a service that passes its
gates.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.commands import REPOSITORY, uv_run
from tests.support.releases import TemplateCopy, commit_all, copier, git, leftovers, recorded_commit

pytestmark = [pytest.mark.update, pytest.mark.slow]

PACKAGE = "chassis_probe"
PROJECT = {"project_name": "Chassis Probe", "database": "sqlite"}
MOVED = "template/src/{{package_name}}/core/settings.py"

ORDERS = '''"""Orders: a domain the team added to its 0.3 service."""

from fastapi import APIRouter

from .core.security.scopes import RequireScopes

router = APIRouter(prefix="/v1/orders", tags=["orders"])


@router.get("", summary="List orders", dependencies=[RequireScopes("orders:read")])
async def list_orders() -> list[str]:
    return []
'''
SETTING = "    orders_page_size: int = Field(50, ge=1, le=500)\n"
TEAM_TEST = f"""import pytest

from {PACKAGE}.core.settings import load_settings
from {PACKAGE}.orders import router

pytestmark = pytest.mark.unit


def test_team_code_survives_the_move_to_the_chassis() -> None:
    assert router.prefix == "/v1/orders"
    assert load_settings().orders_page_size == 50
"""
OLD_MIDDLEWARE = (
    "app.add_middleware(HeaderLimitMiddleware, max_bytes=settings.request_max_header_bytes)"
)
NEW_MIDDLEWARE = "app.add_middleware(HeaderLimitMiddleware, max_bytes=16_384)"


def last_copied_platform_commit() -> str:
    """The last commit whose template still copied `core/` into services (0.3.x)."""
    found = subprocess.run(
        ["git", "log", "-1", "--format=%H", "--no-renames", "--diff-filter=D", "--", MOVED],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    if not found:
        pytest.skip(
            "SKIPPED LOUDLY: this clone has no history of the 0.3 layout (a shallow clone?); "
            "the 0.3 -> 0.4 update cannot be rebuilt without it"
        )
    return f"{found}^"


def as_release_0_3(template: TemplateCopy, commit: str) -> None:
    """Replace the copy's files with the 0.3 tree from this repository's history."""
    git(template.path, "rm", "-r", "-q", ".")
    archive = subprocess.run(
        ["git", "archive", commit], cwd=REPOSITORY, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(template.path)], input=archive, check=True)


def back_to_working_tree(template: TemplateCopy) -> None:
    git(template.path, "rm", "-r", "-q", ".")
    git(template.path, "checkout", template.initial_commit, "--", ".")


def make_team_changes(project: Path) -> None:
    package = project / "src" / PACKAGE
    (package / "orders.py").write_text(ORDERS)
    api = package / "api.py"
    api.write_text(
        api.read_text()
        .replace(
            "from .items.router import router as items_router\n",
            "from .items.router import router as items_router\n"
            "from .orders import router as orders_router\n",
        )
        .replace(
            "(auth_router, items_router, categories_router)",
            "(auth_router, items_router, categories_router, orders_router)",
        )
    )
    settings = package / "core" / "settings.py"
    text = settings.read_text()
    anchor = "    # --- Database (DB-1, PERF-2)"
    assert anchor in text
    settings.write_text(text.replace(anchor, SETTING + "\n" + anchor, 1))
    app = package / "app.py"
    assert OLD_MIDDLEWARE in app.read_text()
    app.write_text(app.read_text().replace(OLD_MIDDLEWARE, NEW_MIDDLEWARE))
    (project / "tests" / "unit" / "test_team.py").write_text(TEAM_TEST)
    commit_all(project, "orders domain, a setting, a smaller header limit")


def test_tpl5_a_0_3_service_moves_to_the_chassis_without_conflicts(tmp_path: Path) -> None:
    old_commit = last_copied_platform_commit()
    template = TemplateCopy.of_working_tree(tmp_path / "template")
    as_release_0_3(template, old_commit)
    template.release("0.3.0", "platform code copied into services")
    data = [f"--data={name}={value}" for name, value in PROJECT.items()]
    project = tmp_path / "service"
    copier("copy", "--trust", "--defaults", *data, str(template.path), str(project), cwd=tmp_path)
    commit_all(project, "generated from 0.3.0")
    make_team_changes(project)

    back_to_working_tree(template)
    template.release("0.4.0", "the service chassis")
    updated = copier("update", "--trust", "--defaults", "--conflict=inline", cwd=project)

    assert "platform files retired" in updated.stderr, updated.stderr
    assert not leftovers(project), leftovers(project)
    assert recorded_commit(project) == "v0.4.0"
    package = project / "src" / PACKAGE
    # The platform copies are gone; the team's own code stays, on the chassis's public API.
    assert not (package / "core").exists()
    assert not (package / "api.py").exists()
    orders = (package / "orders.py").read_text()
    assert "from goldenpath_chassis.security import RequireScopes" in orders
    # The setting and the domain have their new homes...
    assert SETTING.strip() in (package / "settings.py").read_text()
    service = (package / "service.py").read_text()
    assert 'Domain(name="orders", routers=(orders_router,))' in service
    # ...and the middleware option, which has none, is in the report with the whole change.
    report = (project / "CHASSIS-MIGRATION.md").read_text()
    assert f"+        {NEW_MIDDLEWARE}" in report or NEW_MIDDLEWARE in report
    assert "app.py" in report

    commit_all(project, "update to v0.4.0")
    uv_run(project, "ruff", "check", "--output-format", "concise")
    uv_run(project, "ruff", "format", "--check")
    uv_run(project, "mypy")
    tests = uv_run(project, "pytest", "-v", "-m", "unit", "--no-cov", "-p", "no:cacheprovider")
    assert "test_team.py::test_team_code_survives_the_move_to_the_chassis PASSED" in tests.stdout
    routes = uv_run(
        project,
        "python",
        "-c",
        f"from {PACKAGE}.app import create_app; "
        "from goldenpath_chassis.security import route_access; "
        "print(sorted(path for _, path in route_access(create_app())))",
    )
    assert "/v1/orders" in routes.stdout
