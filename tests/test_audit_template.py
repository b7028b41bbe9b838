"""The audit on the generated all-defaults service: every standard it ships is found, and a
standard removed by hand is lost alone, with its reason.

The removal cases copy the generated project (without its virtual environment), change one
thing the way a team might, audit the copy and compare it with the untouched project: exactly
one standard may change, and its missing requirement must say why.
"""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from goldenpath.audit import Report, Status, audit
from goldenpath.audit.catalogue import AREA_BY_KEY
from goldenpath.audit.model import Outcome
from tests.support.projects import GeneratedProject

# Standards main already ships in every generated service; the audit must find each of them.
SHIPPED_ON_MAIN = (
    "INF-1", "INF-2", "INF-3", "SEC-6", "OBS-1", "OBS-2", "OBS-3", "OBS-4", "DB-1", "DB-2",
    "DB-3", "DB-4", "PERF-1", "PERF-2", "PERF-3", "TEST-1", "TEST-3", "CFG-1", "RES-1", "RES-2",
    "API-1", "API-2", "API-3", "ARCH-1", "ARCH-3", "TPL-1",
)  # fmt: skip
COPY_IGNORES = shutil.ignore_patterns(".venv", ".git", "__pycache__", "var", ".*_cache")


@pytest.fixture(scope="module")
def baseline(default_project: GeneratedProject) -> Report:
    return audit(default_project.path)


def _unmet(report: Report) -> dict[str, list[str]]:
    return {
        result.standard.id: [f"{r.name}: {r.detail}" for r in result.missing]
        for result in report.scored_results
        if result.status not in {Status.PASS, Status.NOT_APPLICABLE}
    }


def test_audit_generated_defaults_score_100(baseline: Report) -> None:
    assert _unmet(baseline) == {}
    assert baseline.score == 100


def test_audit_finds_every_standard_main_ships(baseline: Report) -> None:
    failing = {
        standard: [f"{r.name}: {r.detail}" for r in baseline.result(standard).missing]
        for standard in SHIPPED_ON_MAIN
        if baseline.result(standard).status is not Status.PASS
    }
    assert failing == {}
    assert baseline.profile.framework == "fastapi"
    # Each standard's proof is found by its test names (test_<id>_...).
    assert len(baseline.result("DB-2").proven_by) >= 1
    # Not applicable only where the service has nothing to protect: no cookie sessions yet.
    not_applicable = {
        r.standard.id for r in baseline.scored_results if r.status is Status.NOT_APPLICABLE
    }
    assert not_applicable <= {"SEC-2"}, not_applicable


def _replace(relative: str, old: str, new: str) -> Callable[[Path, str], None]:
    def edit(root: Path, package: str) -> None:
        path = root / relative.format(package=package)
        text = path.read_text()
        assert old in text, f"{old!r} is no longer in {path}: update this test"
        path.write_text(text.replace(old, new))

    return edit


def _replace_in_chassis(module: str, old: str, new: str) -> Callable[[Path, str], None]:
    """The same edit in the chassis the service builds from (its wheel in .chassis/): the
    audit reads that chassis as part of the service."""

    def edit(root: Path, package: str) -> None:
        (wheel,) = root.glob(".chassis/goldenpath_chassis-*.whl")
        name = f"goldenpath_chassis/_core/{module}"
        with zipfile.ZipFile(wheel) as source:
            entries = {item: source.read(item) for item in source.namelist()}
        text = entries[name].decode()
        assert old in text, f"{old!r} is no longer in the chassis's {module}: update this test"
        entries[name] = text.replace(old, new).encode()
        with zipfile.ZipFile(wheel, "w") as target:
            for item, data in entries.items():
                target.writestr(item, data)

    return edit


def _empty_downgrade(root: Path, package: str) -> None:
    path = root / "src" / package / "migrations" / "versions" / "0001_initial_schema.py"
    text = path.read_text()
    function = next(
        node
        for node in ast.parse(text).body
        if isinstance(node, ast.FunctionDef) and node.name == "downgrade"
    )
    lines = text.splitlines()
    assert function.end_lineno is not None
    lines[function.lineno : function.end_lineno] = ["    pass"]
    path.write_text("\n".join(lines) + "\n")


def _delete(relative: str) -> Callable[[Path, str], None]:
    def edit(root: Path, package: str) -> None:
        (root / relative.format(package=package)).unlink()

    return edit


@dataclass(frozen=True)
class Removal:
    standard: str
    edit: Callable[[Path, str], None]
    requirement: str
    reason: str  # a regular expression the missing requirement's detail and evidence match


REMOVALS = {
    "workers": Removal(
        "INF-1",
        _replace_in_chassis("server.py", "workers=None,", "workers=4,"),
        "no in-process workers",
        r"forks 4 workers",
    ),
    "downgrade": Removal(
        "DB-2",
        _empty_downgrade,
        "every migration reversible",
        r"0001_initial_schema.py.*does nothing",
    ),
    "integer-keys": Removal(
        "DB-4",
        _replace_in_chassis(
            "models.py",
            "id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)",
            "id: Mapped[int] = mapped_column(primary_key=True)",
        ),
        "UUID primary keys",
        r"sequential integers",
    ),
    "metrics-route": Removal(
        "OBS-1",
        # One registration serves the API and the worker's listener alike.
        _replace_in_chassis(
            "metrics_route.py",
            '    app.add_api_route(\n        "/metrics",\n        metrics_endpoint,\n'
            '        methods=["GET"],\n        include_in_schema=False,\n'
            "        dependencies=[RequireScopes(METRICS_SCOPE)],\n    )\n",
            "    pass\n",
        ),
        "/metrics endpoint",
        r"no /metrics endpoint",
    ),
    "pre-ping": Removal(
        "DB-1",
        _replace_in_chassis("database.py", "dialect.do_ping(dbapi_connection)", "pass"),
        "recycle and pre-ping",
        r"neither recycled nor checked before use",
    ),
    "openapi-snapshot": Removal(
        "TEST-3", _delete("openapi.json"), "committed OpenAPI snapshot", r"no committed OpenAPI"
    ),
    "request-model": Removal(
        "API-3",
        _replace(
            "src/{package}/items/router.py",
            "    data: ItemCreate, service: ItemServiceDep,",
            "    data: dict[str, object], service: ItemServiceDep,",
        ),
        "request and response models",
        r"items/router.py:\d+ POST /v1/items no request model",
    ),
    "owner-filter": Removal(
        "SEC-6",
        _replace(
            "src/{package}/items/repository.py",
            "select(Item).where(Item.id == item_id, access.criterion(Item.owner))",
            "select(Item).where(Item.id == item_id)",
        ),
        "every query of an owned table filtered",
        r"items/repository.py:\d+ get: Item without an owner filter",
    ),
    "summary": Removal(
        "API-2",
        _replace("src/{package}/items/router.py", '    summary="Get one item",\n', ""),
        "every route has a summary",
        r"items/router.py:\d+ GET /v1/items/\{item_id\}",
    ),
}


@pytest.mark.parametrize("case", list(REMOVALS))
def test_audit_a_standard_removed_by_hand_is_lost_alone_with_its_reason(
    case: str, default_project: GeneratedProject, baseline: Report, tmp_path: Path
) -> None:
    removal = REMOVALS[case]
    copy = tmp_path / "service"
    shutil.copytree(default_project.path, copy, ignore=COPY_IGNORES)
    removal.edit(copy, default_project.package)

    after = audit(copy)

    changed = {
        result.standard.id
        for result in after.results
        if (result.status, result.score)
        != (baseline.result(result.standard.id).status, baseline.result(result.standard.id).score)
    }
    assert changed == {removal.standard}
    lost = after.result(removal.standard)
    assert lost.status in {Status.PARTIAL, Status.FAIL}
    requirement = next(r for r in lost.requirements if r.name == removal.requirement)
    assert requirement.outcome is Outcome.MISSING
    assert requirement.fix
    explained = requirement.detail + " " + " ".join(str(e) for e in requirement.evidence)
    assert re.search(removal.reason, explained), explained
    if AREA_BY_KEY[removal.standard.split("-")[0]].scored:
        assert after.score < baseline.score


def test_audit_a_git_ignored_development_key_is_not_a_committed_secret(
    default_project: GeneratedProject, baseline: Report, tmp_path: Path
) -> None:
    """`dev-token` writes a private key to var/dev-keys/, which git ignores: no finding. The same
    key anywhere git would commit it is one."""
    copy = tmp_path / "service"
    shutil.copytree(default_project.path, copy, ignore=COPY_IGNORES)
    subprocess.run(["git", "init", "-q"], cwd=copy, check=True)
    key = "-----BEGIN " + "PRIVATE KEY-----\nnot a real key\n-----END " + "PRIVATE KEY-----\n"
    (copy / "var" / "dev-keys").mkdir(parents=True)
    (copy / "var" / "dev-keys" / "jwt-signing-key.pem").write_text(key)
    assert audit(copy).result("CFG-2").status is baseline.result("CFG-2").status is Status.PASS

    (copy / "deploy" / "signing-key.pem").write_text(key)
    requirement = next(
        r
        for r in audit(copy).result("CFG-2").requirements
        if r.name == "no secrets in the repository"
    )
    assert requirement.outcome is Outcome.MISSING
    assert [e.path for e in requirement.evidence] == ["deploy/signing-key.pem"]
