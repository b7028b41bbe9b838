"""The audit on services that did not come from the template: meaningful, never all-or-nothing.

A Flask service (requirements.txt, a single-stage Dockerfile, an unpinned workflow) and a
Django + REST framework + Celery project, written in tests/support/samples.py. Each must get a
score that is neither 0 nor 100, the right standards judged not applicable (with the reason),
and findings that name the file and line a person would fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from goldenpath.audit import Report, Status, audit
from goldenpath.audit.catalogue import STANDARDS
from goldenpath.audit.model import Outcome, StandardResult
from goldenpath.audit.runner import NothingToAudit
from tests.support.samples import django_service, flask_service, write


@pytest.fixture(scope="module")
def flask_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    return audit(flask_service(tmp_path_factory.mktemp("flask")))


@pytest.fixture(scope="module")
def django_report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    return audit(django_service(tmp_path_factory.mktemp("django")))


def missing(result: StandardResult, name: str) -> str:
    """The detail and evidence of the missing requirement `name` (fails if it is not missing)."""
    found = [r for r in result.requirements if r.name == name]
    assert found, f"{result.standard.id} has no requirement {name!r}"
    requirement = found[0]
    assert requirement.outcome is Outcome.MISSING, f"{result.standard.id}: {requirement}"
    assert requirement.fix, f"{result.standard.id}: {name} says nothing about how to fix it"
    return requirement.detail + " | " + " | ".join(str(e) for e in requirement.evidence)


def met(result: StandardResult, name: str) -> str:
    found = [r for r in result.requirements if r.name == name]
    assert found, f"{result.standard.id} has no requirement {name!r}"
    assert found[0].outcome is Outcome.MET, f"{result.standard.id}: {found[0]}"
    return " | ".join(str(e) for e in found[0].evidence)


def test_audit_reports_every_standard_of_the_catalogue(flask_report: Report) -> None:
    assert [result.standard.id for result in flask_report.results] == [s.id for s in STANDARDS]


def test_audit_flask_service_gets_a_meaningful_score(flask_report: Report) -> None:
    report = flask_report
    assert report.profile.framework == "flask"
    assert 5 < report.score < 50, report.score
    assert report.count(Status.PASS) + report.count(Status.PARTIAL) >= 5
    # What the service has is credited, with where it is.
    assert "/health" in met(report.result("INF-2"), "liveness endpoint")
    assert "MAX_CONTENT_LENGTH" in met(report.result("SEC-1"), "request body size limit")
    assert "app.test_client" in met(
        report.result("TEST-1"), "API tests through the real application"
    ) or (report.result("TEST-1").status is Status.PASS)
    # What it lacks is named, with the file and line to change.
    assert "Dockerfile:5 4 worker processes" in missing(
        report.result("INF-1"), "no in-process workers"
    )
    assert "shell form" in missing(report.result("INF-3"), "signals reach the server")
    assert "no readiness route" in missing(report.result("INF-2"), "readiness endpoint")
    assert "python:3.12-slim" in missing(report.result("OPS-1"), "base images pinned by digest")
    assert "runs as root" in missing(report.result("OPS-1"), "non-root user")
    assert "actions/checkout@v4" in missing(report.result("OPS-3"), "actions pinned by commit SHA")
    assert "types" in missing(report.result("OPS-3"), "lint, types and tests")
    assert "app.py:21" in missing(report.result("ARCH-2"), "no state in the process")
    assert "/orders" in missing(report.result("API-1"), "business routes under /v1")
    assert "outbound HTTP" in missing(report.result("RES-1"), "every dependency behind a breaker")
    assert "os.environ.get" in missing(report.result("CFG-1"), "read in one place")


def test_audit_flask_service_not_applicable_where_it_does_not_apply(flask_report: Report) -> None:
    reasons = {
        result.standard.id: result.not_applicable
        for result in flask_report.results
        if result.status is Status.NOT_APPLICABLE
    }
    for standard in ("DB-1", "DB-2", "DB-3", "DB-4", "PERF-2", "SEC-6"):
        assert reasons[standard] is not None
    assert "no database" in str(reasons["DB-1"]) or "no ORM models" in str(reasons["DB-3"])
    assert "cookie" in str(reasons["SEC-2"])
    assert "no background work" in str(reasons["ARCH-3"])
    assert "static" in str(reasons["PERF-3"])
    # Not applicable never counts against the score, nor for it.
    assert all(flask_report.result(s).score is None for s in reasons)


def test_audit_django_service_gets_a_meaningful_score(django_report: Report) -> None:
    report = django_report
    assert report.profile.framework == "django"
    assert 15 < report.score < 75, report.score
    # Routes come from urlpatterns, include() and the REST framework router.
    assert "/api/v1/orders" in met(report.result("API-1"), "business routes under /v1")
    assert "REST_FRAMEWORK" in met(report.result("SEC-3"), "every route declares access")
    # Session cookies make CSRF apply; Django's middleware covers token and Origin.
    csrf = report.result("SEC-2")
    assert csrf.status is Status.PARTIAL
    assert "CsrfViewMiddleware" in met(csrf, "CSRF token checked")
    assert "SESSION_COOKIE_SECURE" in missing(csrf, "cookies SameSite and Secure")
    # Celery: a durable queue with a worker and retries, but published after the commit.
    queue = report.result("ARCH-3")
    assert queue.status is Status.PARTIAL
    assert "Procfile" in met(queue, "worker process")
    assert "on_commit" in missing(queue, "enqueued with the business write")
    assert "RunPython without reverse_code" in missing(
        report.result("DB-2"), "every migration reversible"
    )
    assert report.result("DB-4").status is Status.PASS
    assert "CONN_MAX_AGE" not in missing(report.result("DB-1"), "pool timeout")
    assert "whitenoise" in met(report.result("PERF-3"), "fingerprinted file names")
    assert "IntegrityError" in met(report.result("DB-3"), "database refusal tested")
    assert "runs as 10001" in next(
        r.detail for r in report.result("OPS-1").requirements if r.name == "non-root user"
    )
    assert report.result("TPL-1").status is Status.FAIL  # informational: not in the score
    # Any caller allowed to read orders reads everyone's: no query names an owner.
    assert "OWASP API1" in missing(report.result("SEC-6"), "queries filtered by owner")


def test_audit_of_an_empty_folder_or_another_language_says_there_is_nothing_to_audit(
    tmp_path: Path,
) -> None:
    """Nothing scored is better than a score of nothing: an empty folder, or a Go service, is
    refused with the reason rather than failed on every standard."""
    with pytest.raises(NothingToAudit, match=r"nothing to audit: .* is empty"):
        audit(tmp_path)
    write(tmp_path, {"go.mod": "module example.com/orders\n", "main.go": "package main\n"})
    with pytest.raises(NothingToAudit, match=r"no Python found .*Go \(go\.mod\)"):
        audit(tmp_path)
    write(tmp_path, {"app.py": "print('hello')\n"})
    report = audit(tmp_path)
    assert report.profile.framework == "unknown"
    assert "no HTTP routes" in str(report.result("API-1").not_applicable)
    assert report.result("OPS-1").status is Status.FAIL


def test_audit_knows_every_server_database_driver_as_one_list(tmp_path: Path) -> None:
    """A driver the audit knows is a database server's makes both DB-1 (pooling) and TEST-1
    (tests against a real server) apply; the two checks once kept separate lists of drivers."""
    service = flask_service(tmp_path)
    requirements = service / "requirements.txt"
    requirements.write_text(requirements.read_text() + "oracledb==2.4.1\n")
    report = audit(service)
    assert report.result("DB-1").status is not Status.NOT_APPLICABLE
    assert "oracledb" in missing(report.result("TEST-1"), "against real databases")


def owned_orders(root: Path, queryset: str) -> Path:
    """The Django sample with an owner on each order, listed by `get_queryset` as `queryset`."""
    service = django_service(root)
    models = service / "orders" / "models.py"
    column = "    customer = models.ForeignKey"
    assert column in models.read_text(), "the Django sample changed: update this test"
    owner = '    owner = models.ForeignKey("auth.User", on_delete=models.CASCADE)\n'
    models.write_text(models.read_text().replace(column, owner + column))
    views = service / "orders" / "views.py"
    method = f"\n    def get_queryset(self):\n        return {queryset}\n"
    views.write_text(views.read_text() + method)
    return service


def test_audit_sec6_credits_owner_filtered_queries_and_names_each_unfiltered_one(
    tmp_path: Path,
) -> None:
    filtered = audit(owned_orders(tmp_path / "a", "Order.objects.filter(owner=self.request.user)"))
    assert filtered.result("SEC-6").status is Status.PASS
    assert "views.py" in met(filtered.result("SEC-6"), "queries filtered by owner")

    everyone = audit(owned_orders(tmp_path / "b", "Order.objects.select_related('customer')"))
    result = everyone.result("SEC-6")
    assert result.status is Status.FAIL
    assert "get_queryset: Order without an owner filter" in missing(
        result, "every query of an owned table filtered"
    )


def test_audit_sec6_a_lookup_by_primary_key_alone_reaches_every_owner(tmp_path: Path) -> None:
    """A SQLAlchemy repository that filters its list by owner but reads one note by id alone."""
    files = {
        "requirements.txt": "fastapi==0.115.0\nsqlalchemy==2.0.35\n",
        "notes/models.py": """
            from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


            class Base(DeclarativeBase):
                pass


            class Note(Base):
                __tablename__ = "notes"
                id: Mapped[int] = mapped_column(primary_key=True)
                owner: Mapped[str]
        """,
        "notes/repository.py": """
            from sqlalchemy import select

            from .models import Note


            class NoteRepository:
                def __init__(self, session):
                    self.session = session

                async def list(self, owner):
                    return await self.session.scalars(select(Note).where(Note.owner == owner))

                async def get(self, note_id):
                    return await self.session.get(Note, note_id)
        """,
    }
    result = audit(write(tmp_path, files)).result("SEC-6")
    assert "notes/repository.py:11" in met(result, "queries filtered by owner")
    assert "notes/repository.py:14 get: Note by primary key alone" in missing(
        result, "every query of an owned table filtered"
    )


def _fastapi_with_probe_app(root: Path, api_arguments: str) -> Path:
    """A FastAPI service and a second app of its own for probes (a worker's listener, say),
    its OpenAPI document switched off."""
    return write(
        root,
        {
            "pyproject.toml": '[project]\nname = "svc"\ndependencies = ["fastapi"]\n',
            "svc/__init__.py": "",
            "svc/main.py": f"from fastapi import FastAPI\n\napp = FastAPI({api_arguments})\n\n\n"
            "@app.get('/v1/items', summary='The items')\n"
            "async def items() -> list[str]:\n    return []\n",
            "svc/probes.py": "from fastapi import FastAPI\n\n"
            "probes = FastAPI(openapi_url=None)\n\n\n"
            "@probes.get('/health/live')\nasync def live() -> dict[str, str]:\n    return {}\n",
        },
    )


def test_api2_a_probe_app_without_a_document_leaves_the_api_documented(tmp_path: Path) -> None:
    documented = audit(_fastapi_with_probe_app(tmp_path / "kept", "")).result("API-2")
    switched_off = audit(_fastapi_with_probe_app(tmp_path / "off", "openapi_url=None"))
    assert any(
        r.name == "OpenAPI from the code" and r.outcome is Outcome.MET
        for r in documented.requirements
    ), documented
    assert "switched off" in missing(switched_off.result("API-2"), "OpenAPI from the code")
