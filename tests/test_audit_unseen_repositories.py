"""Shapes found by checking the audit's verdicts by hand on repositories it was never tuned on
(HackSoftware/Django-Styleguide-Example, CTFd/CTFd, onyx-dot-app/onyx,
litestar-org/litestar-fullstack), each cut down to the lines that decided a wrong verdict: a
REST framework session authentication with its CSRF check emptied, a column called "origin"
taken for an Origin header check, a body limit only read or named in a message, Celery's warm
shutdown turned cold by REMAP_SIGTERM=SIGQUIT, migrations read as request handling, a project's
celery.py taken for the library, a fixed retry countdown taken for backoff."""

from __future__ import annotations

from pathlib import Path

from goldenpath.audit import audit
from goldenpath.audit.model import Outcome
from tests.support.samples import outcome, write

# HackSoftware/Django-Styleguide-Example, styleguide_example/api/mixins.py (shortened).
STYLEGUIDE_MIXINS = """\
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated


class CsrfExemptedSessionAuthentication(SessionAuthentication):
    \"\"\"DRF SessionAuthentication is enforcing CSRF, which may be problematic.\"\"\"

    def enforce_csrf(self, request):
        return


class ApiAuthMixin:
    authentication_classes = [CsrfExemptedSessionAuthentication]
    permission_classes = (IsAuthenticated,)
"""


def _styleguide(root: Path, mixins: str) -> Path:
    return write(
        root,
        {
            "requirements.txt": "django\ndjangorestframework\n",
            "config/settings.py": "ROOT_URLCONF = 'config.urls'\nINSTALLED_APPS = []\n"
            "MIDDLEWARE = ['django.contrib.sessions.middleware.SessionMiddleware', "
            "'django.middleware.csrf.CsrfViewMiddleware']\nCSRF_USE_SESSIONS = True\n",
            "app/__init__.py": "",
            "app/mixins.py": mixins,
            "app/apis.py": "from rest_framework.views import APIView\n"
            "from rest_framework.response import Response\n"
            "from app.mixins import ApiAuthMixin\n\n"
            "class FileUploadApi(ApiAuthMixin, APIView):\n"
            "    def post(self, request):\n        return Response({})\n",
            "config/urls.py": "from django.urls import path\nfrom app.apis import FileUploadApi\n"
            "urlpatterns = [path('api/files/upload/', FileUploadApi.as_view())]\n",
        },
    )


def test_audit_rest_framework_session_authentication_without_csrf_is_no_csrf_check(
    tmp_path: Path,
) -> None:
    report = audit(_styleguide(tmp_path / "exempted", STYLEGUIDE_MIXINS))
    token = next(r for r in report.result("SEC-2").requirements if r.name == "CSRF token checked")
    assert token.outcome is Outcome.MISSING
    assert any(
        e.path == "app/mixins.py" and "enforce_csrf skips" in e.detail for e in token.evidence
    )
    assert outcome(report, "SEC-2", "same-origin check") is Outcome.MISSING
    # The check left in place, Django's middleware and REST framework's check both count.
    checked = STYLEGUIDE_MIXINS.replace(
        "    def enforce_csrf(self, request):\n        return\n", "    pass\n"
    )
    report = audit(_styleguide(tmp_path / "checked", checked))
    assert outcome(report, "SEC-2", "CSRF token checked") is Outcome.MET
    assert outcome(report, "SEC-2", "same-origin check") is Outcome.MET


def _cookie_service(root: Path, extra: dict[str, str]) -> Path:
    return write(
        root,
        {
            "pyproject.toml": "[project]\nname = 'x'\ndependencies = ['fastapi', 'alembic']\n",
            "app/main.py": "from fastapi import FastAPI, Request\napp = FastAPI()\n\n"
            "@app.post('/v1/chat')\ndef chat(request: Request) -> dict[str, str]:\n"
            "    return {'session': request.cookies.get('session', '')}\n",
            **extra,
        },
    )


def test_audit_a_column_called_origin_is_no_origin_header_check(tmp_path: Path) -> None:
    # onyx-dot-app/onyx, backend/alembic/versions/28429dd43807_scheduled_tasks.py (shortened).
    migration = (
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        "def upgrade() -> None:\n"
        "    op.add_column('build_session', sa.Column('origin', sa.String(), nullable=False))\n\n"
        "def downgrade() -> None:\n    op.drop_column('build_session', 'origin')\n"
    )
    report = audit(_cookie_service(tmp_path / "column", {"alembic/versions/a1.py": migration}))
    assert outcome(report, "SEC-2", "same-origin check") is Outcome.MISSING
    # onyx-dot-app/onyx, backend/onyx/auth/users.py: the header itself read.
    reading = (
        "def allowed(websocket) -> bool:\n"
        "    origin = websocket.headers.get('origin')\n    return origin == 'https://a'\n"
    )
    report = audit(_cookie_service(tmp_path / "header", {"app/origin.py": reading}))
    assert outcome(report, "SEC-2", "same-origin check") is Outcome.MET


# CTFd/CTFd, CTFd/utils/exports/__init__.py (shortened): the limit read, to check a zip's members.
CTFD_EXPORTS = """\
import zipfile
from CTFd.utils import get_app_config


def import_ctf(backup):
    backup = zipfile.ZipFile(backup)
    max_content_length = get_app_config("MAX_CONTENT_LENGTH")
    for f in backup.namelist():
        if max_content_length and backup.getinfo(f).file_size > max_content_length:
            raise zipfile.LargeZipFile
"""
# onyx-dot-app/onyx, backend/onyx/llm/utils.py (shortened): an upstream's refusal, in a message.
ONYX_LLM_ERRORS = """\
def llm_error(error_msg: str) -> str:
    if "413" in error_msg:
        error_msg = (
            "Request too large: The LLM endpoint rejected the request because it "
            "exceeded the maximum allowed size (HTTP 413). Increase the "
            "maximum request body size on the gateway in front of your LLM "
            "endpoint (e.g. nginx `client_max_body_size`)."
        )
    return error_msg
"""


def _flask(root: Path, config: str) -> Path:
    return write(
        root,
        {
            "requirements.txt": "flask\n",
            "CTFd/__init__.py": "from flask import Flask\nfrom CTFd.config import Config\n\n"
            "def create_app():\n    app = Flask(__name__)\n"
            "    app.config.from_object(Config)\n    return app\n",
            "CTFd/config.py": config,
            "CTFd/utils/__init__.py": "def get_app_config(key):\n    return None\n",
            "CTFd/utils/exports.py": CTFD_EXPORTS,
            "CTFd/llm.py": ONYX_LLM_ERRORS,
        },
    )


def test_audit_a_body_limit_read_or_named_in_a_message_is_no_limit(tmp_path: Path) -> None:
    report = audit(_flask(tmp_path / "unset", "class Config:\n    SECRET_KEY = None\n"))
    assert outcome(report, "SEC-1", "request body size limit") is Outcome.MISSING
    # Set in Flask's configuration class, or in the app's config, the limit counts.
    config = "import os\n\nclass Config:\n    MAX_CONTENT_LENGTH = int(os.getenv('MAX', '1000'))\n"
    report = audit(_flask(tmp_path / "class", config))
    assert outcome(report, "SEC-1", "request body size limit") is Outcome.MET
    setting = "def configure(app):\n    app.config['MAX_CONTENT_LENGTH'] = 16 * 1024 * 1024\n"
    report = audit(_flask(tmp_path / "item", setting))
    assert outcome(report, "SEC-1", "request body size limit") is Outcome.MET


# HackSoftware/Django-Styleguide-Example: Procfile, styleguide_example/tasks/celery.py and
# config/settings/celery.py (two modules called celery, each in a package: neither is the library).
STYLEGUIDE_PROCFILE = (
    "web: gunicorn config.wsgi:application\n"
    "worker: REMAP_SIGTERM=SIGQUIT celery -A styleguide_example.tasks worker -l info "
    "--without-gossip --without-mingle --without-heartbeat\n"
)


# HackSoftware/Django-Styleguide-Example, styleguide_example/emails/tasks.py (shortened): retried
# after a fixed five seconds.
STYLEGUIDE_EMAIL_TASK = """\
from celery import shared_task


@shared_task(bind=True)
def email_send(self, email_id):
    try:
        pass
    except Exception as exc:
        self.retry(exc=exc, countdown=5)
"""


def _celery_service(root: Path, procfile: str, task: str = STYLEGUIDE_EMAIL_TASK) -> Path:
    return write(
        root,
        {
            "requirements.txt": "flask\ncelery\n",
            "Procfile": procfile,
            "app/__init__.py": "from flask import Flask\napp = Flask(__name__)\n",
            "app/tasks/__init__.py": "",
            "app/tasks/celery.py": "from celery import Celery\n"
            "app = Celery('styleguide_example')\napp.autodiscover_tasks()\n",
            "config/__init__.py": "",
            "config/settings/__init__.py": "",
            "config/settings/celery.py": "import os\n"
            "CELERY_BROKER_URL = os.getenv('CELERY_BROKER_URL', 'amqp://localhost//')\n",
            "app/tasks/emails.py": task,
        },
    )


def test_audit_celery_remapped_to_a_cold_stop_is_no_graceful_worker_shutdown(
    tmp_path: Path,
) -> None:
    report = audit(_celery_service(tmp_path / "cold", STYLEGUIDE_PROCFILE))
    graceful = next(
        r for r in report.result("ARCH-3").requirements if r.name == "graceful worker shutdown"
    )
    assert graceful.outcome is Outcome.MISSING
    assert [(e.path, e.line) for e in graceful.evidence] == [("Procfile", 2)]
    warm = STYLEGUIDE_PROCFILE.replace("REMAP_SIGTERM=SIGQUIT ", "")
    report = audit(_celery_service(tmp_path / "warm", warm))
    assert outcome(report, "ARCH-3", "graceful worker shutdown") is Outcome.MET


def test_audit_a_fixed_retry_countdown_is_no_backoff(tmp_path: Path) -> None:
    report = audit(_celery_service(tmp_path / "fixed", STYLEGUIDE_PROCFILE))
    retries = next(r for r in report.result("ARCH-3").requirements if r.name == "retries")
    assert retries.outcome is Outcome.MISSING
    assert "retried, without backoff" in retries.detail
    assert ("app/tasks/emails.py", 9, "countdown=5") in {
        (e.path, e.line, e.detail) for e in retries.evidence
    }
    # A delay that grows with the attempts, or Celery's own backoff, is backoff.
    growing = STYLEGUIDE_EMAIL_TASK.replace("countdown=5", "countdown=2 ** self.request.retries")
    report = audit(_celery_service(tmp_path / "growing", STYLEGUIDE_PROCFILE, growing))
    assert outcome(report, "ARCH-3", "retries") is Outcome.MET
    automatic = (
        "from celery import shared_task\n\n"
        "@shared_task(autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=5)\n"
        "def email_send(email_id):\n    pass\n"
    )
    report = audit(_celery_service(tmp_path / "automatic", STYLEGUIDE_PROCFILE, automatic))
    assert outcome(report, "ARCH-3", "retries") is Outcome.MET
    switched_off = automatic.replace("retry_backoff=True", "retry_backoff=False")
    report = audit(_celery_service(tmp_path / "off", STYLEGUIDE_PROCFILE, switched_off))
    assert outcome(report, "ARCH-3", "retries") is Outcome.MISSING


# onyx-dot-app/onyx, backend/alembic/versions/4d93b0fd5ca8_seed_pinned_assistants_from_featured_.py
# and 15326fcec57e_introduce_onyx_apis.py (shortened): a backfill joined on the user's id and a
# column's length, in revisions beside backend/alembic/env.py.
ONYX_REVISION = """\
import sqlalchemy as sa
from alembic import op

revision = "4d93b0fd5ca8"
down_revision = "f54501f1435a"

user = sa.table("user", sa.column("id", sa.UUID()))
pinned_persona = sa.table(
    "user__pinned_persona", sa.column("user_id", sa.UUID()), sa.column("persona_id", sa.Integer())
)


def upgrade() -> None:
    op.alter_column("connector", "source", type_=sa.String(length=50))


def downgrade() -> None:
    ordered_pins = (
        sa.select(sa.func.jsonb_agg(pinned_persona.c.persona_id))
        .where(pinned_persona.c.user_id == user.c.id)
        .scalar_subquery()
    )
    op.execute(sa.update(user).values(pinned_assistants=ordered_pins))
"""


def _migrated_service(root: Path, revisions: dict[str, str]) -> Path:
    return write(
        root,
        {
            "pyproject.toml": "[project]\nname = 'x'\n"
            "dependencies = ['fastapi', 'sqlalchemy', 'alembic']\n",
            "app/__init__.py": "",
            "app/models.py": "from sqlalchemy.orm import DeclarativeBase, Mapped\n\n"
            "class Base(DeclarativeBase):\n    pass\n\n"
            "class Persona(Base):\n    __tablename__ = 'persona'\n"
            "    id: Mapped[int]\n    user_id: Mapped[str]\n",
            "app/main.py": "from fastapi import FastAPI\nfrom sqlalchemy import select\n"
            "from app.models import Persona\napp = FastAPI()\n\n"
            "@app.get('/personas')\nasync def personas(session) -> list[Persona]:\n"
            "    return list(await session.scalars(select(Persona)))\n",
            **revisions,
        },
    )


def test_audit_migrations_are_no_evidence_of_request_handling(tmp_path: Path) -> None:
    alembic = {"alembic/env.py": "from alembic import context\n"} | {
        "alembic/versions/4d93b0fd5ca8_seed.py": ONYX_REVISION
    }
    report = audit(_migrated_service(tmp_path / "alembic", alembic))
    assert outcome(report, "SEC-6", "queries filtered by owner") is Outcome.MISSING
    assert outcome(report, "SEC-1", "bounded fields") is Outcome.MISSING
    # The schema checks still read them.
    assert outcome(report, "DB-2", "versioned migrations") is Outcome.MET
    # A Django app's migrations package is the schema's history too.
    django = {"app/migrations/__init__.py": "", "app/migrations/0002_seed.py": ONYX_REVISION}
    report = audit(_migrated_service(tmp_path / "django", django))
    assert outcome(report, "SEC-1", "bounded fields") is Outcome.MISSING
    # The same lines in the application's code count.
    report = audit(_migrated_service(tmp_path / "app", {"app/pins.py": ONYX_REVISION}))
    assert outcome(report, "SEC-6", "queries filtered by owner") is Outcome.MET
    assert outcome(report, "SEC-1", "bounded fields") is Outcome.MET


# Celery's documented Django layout, "First steps with Django"
# (https://docs.celeryq.dev/en/stable/django/first-steps-with-django.html): proj/celery.py
# defines the app and proj/__init__.py imports it; the project module is proj.celery, and
# `from celery import Celery` in it (and everywhere else) is still the library.
CELERY_DOCS_APP = """\
import os

from celery import Celery

os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'proj.settings')

app = Celery('proj')
app.config_from_object('django.conf:settings', namespace='CELERY')
app.autodiscover_tasks()


@app.task(bind=True, ignore_result=True)
def debug_task(self):
    print(f'Request: {self.request!r}')
"""


def test_audit_a_project_module_called_celery_does_not_hide_the_library(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "requirements.txt": "django\ncelery\n",
            "manage.py": "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', "
            "'proj.settings')\n",
            "proj/__init__.py": "from .celery import app as celery_app\n\n"
            "__all__ = ('celery_app',)\n",
            "proj/celery.py": CELERY_DOCS_APP,
            "proj/settings.py": "INSTALLED_APPS = ['demoapp']\nMIDDLEWARE = []\n"
            "CELERY_BROKER_URL = 'redis://localhost:6379/0'\n",
            "demoapp/__init__.py": "",
            "demoapp/tasks.py": "from celery import shared_task\n\n"
            "@shared_task\ndef add(x, y):\n    return x + y\n",
        },
    )
    report = audit(root)
    durable = next(r for r in report.result("ARCH-3").requirements if r.name == "durable queue")
    assert durable.outcome is Outcome.MET
    assert ("proj/celery.py", "celery.Celery(...)") in {
        (e.path, e.detail) for e in durable.evidence
    }
