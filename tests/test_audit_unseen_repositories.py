"""Shapes found by checking the audit's verdicts by hand on repositories it was never tuned on
(HackSoftware/Django-Styleguide-Example, CTFd/CTFd, onyx-dot-app/onyx,
litestar-org/litestar-fullstack), each cut down to the lines that decided a wrong verdict: a
REST framework session authentication with its CSRF check emptied, a column called "origin"
taken for an Origin header check, a body limit only read or named in a message, Celery's warm
shutdown turned cold by REMAP_SIGTERM=SIGQUIT, migrations read as request handling, a project's
celery.py taken for the library, a fixed retry countdown taken for backoff; and from the third
round (mealie-recipes/mealie, wger-project/wger, getredash/redash), Alembic revisions with dots
in their names that stopped the audit, an editor's development-container Dockerfile read as the
service's image, a third party's CDN in a page's text taken for a CDN setting, a `length`
parameter taken for marshmallow's `Length`, a Gravatar md5 beside an API key kept in clear taken
for hashed keys, a template's `_FILE` variable taken for a mounted secret, a lifespan that only
logs after its yield credited with closing resources, a base image without CMD read before the
production one, a Flask static folder given in a dict missed, a query runner named
`*Service` taken for a service layer, an Origin echoed in CORS headers taken for a same-origin
check, webpack's hashed names missed, and class-based views' and router classes' dependencies
missed; and from the fourth (healthchecks/healthchecks, freedomofpress/securedrop,
Chainlit/chainlit), a SECRET_KEY and DEBUG falling back to development values taken for a
refusal, a helper reading `name + "_FILE"` missed, a Redis session store taken for a cache, and
a database URL given to an object whose queries are mocked taken for a real server."""

from __future__ import annotations

import warnings
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


def _fastapi(root: Path, files: dict[str, str]) -> Path:
    return write(
        root,
        {
            "pyproject.toml": "[project]\nname = 'x'\ndependencies = ['fastapi', 'alembic']\n",
            "app/__init__.py": "",
            "app/main.py": "from fastapi import FastAPI\napp = FastAPI()\n\n"
            "@app.get('/v1/items')\ndef items() -> list[str]:\n    return []\n",
            **files,
        },
    )


def test_audit_reads_alembic_revisions_with_dots_in_their_names(tmp_path: Path) -> None:
    # mealie-recipes/mealie: alembic.ini's file_template puts the time, dots and all, in each
    # revision's name (alembic/versions/2022-02-21-19.56.24_6b0f5f32d602_initial_tables.py);
    # a module looked up by the end of its name stopped the audit with an IndexError.
    revision = (
        "import sqlalchemy as sa\nfrom alembic import op\n\n"
        "revision = '6b0f5f32d602'\ndown_revision = None\n\n"
        "def upgrade() -> None:\n    op.create_table('users', sa.Column('id', sa.Integer()))\n\n"
        "def downgrade() -> None:\n    op.drop_table('users')\n"
    )
    root = _fastapi(
        tmp_path,
        {
            "alembic/env.py": "from alembic import context\n",
            "alembic/versions/2022-02-21-19.56.24_6b0f5f32d602_initial_tables.py": revision,
            # A name the audit resolves by its ending: `settings` is app.settings.
            "app/settings.py": "class Settings:\n    debug = False\n",
            "app/routes.py": "from settings import Settings\n",
        },
    )
    report = audit(root)
    assert outcome(report, "DB-2", "versioned migrations") is Outcome.MET


def test_audit_keeps_the_audited_code_s_syntax_warnings_to_itself(tmp_path: Path) -> None:
    # mealie-recipes/mealie, mealie/repos/repository_cookbooks.py: a regular expression in a
    # plain string ("\\d"), which the parser warns about on stderr, or refuses under -W error.
    root = _fastapi(tmp_path, {"app/slugs.py": 'import re\nSLUG = re.compile("^\\d+$")\n'})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("error")
        report = audit(root)
    assert [w for w in caught if issubclass(w.category, SyntaxWarning)] == []
    assert "app/slugs.py" not in {unread.path for unread in report.not_read}


def test_audit_takes_the_service_s_image_before_a_development_container(tmp_path: Path) -> None:
    # mealie-recipes/mealie: .devcontainer/Dockerfile (the editor's workspace) sorted before
    # docker/Dockerfile (the multi-stage image the project ships) and was judged as the image.
    root = _fastapi(
        tmp_path,
        {
            ".devcontainer/Dockerfile": "FROM mcr.microsoft.com/vscode/devcontainers/python:3.10\n"
            "RUN apt-get install -y curl\n",
            "docker/Dockerfile": "FROM python:3.12-slim AS builder\nRUN pip wheel -w /w .\n"
            "FROM python:3.12-slim AS production\nCOPY --from=builder /w /w\n"
            'USER 1000\nENTRYPOINT ["/app/run.sh"]\n',
        },
    )
    report = audit(root)
    stages = next(r for r in report.result("OPS-1").requirements if r.name == "multi-stage build")
    assert stages.outcome is Outcome.MET
    assert {e.path for e in stages.evidence} == {"docker/Dockerfile"}
    assert outcome(report, "OPS-1", "non-root user") is Outcome.MET


# mealie-recipes/mealie, dev/code-generation/gen_docs_api.py (shortened): a page that loads
# ReDoc from a public CDN.
REDOC_PAGE = """\
HTML_TEMPLATE = \"\"\"<!-- Custom HTML site displayed as the Home chapter -->
<script src="https://cdn.jsdelivr.net/npm/redoc/bundles/redoc.standalone.js"> </script>
\"\"\"
"""


def test_audit_a_third_party_cdn_in_a_page_is_no_cdn_setting(tmp_path: Path) -> None:
    static = {
        "app/spa.py": "from fastapi.staticfiles import StaticFiles\n"
        "assets = StaticFiles(directory='static')\n",
        "static/app.js": "",
    }
    report = audit(_fastapi(tmp_path / "page", {**static, "app/docs_page.py": REDOC_PAGE}))
    assert outcome(report, "PERF-3", "CDN base URL setting") is Outcome.MISSING
    setting = "class Settings:\n    cdn_base_url: str | None = None\n"
    report = audit(_fastapi(tmp_path / "setting", {**static, "app/settings.py": setting}))
    assert outcome(report, "PERF-3", "CDN base URL setting") is Outcome.MET


def test_audit_a_length_parameter_is_no_bounded_field(tmp_path: Path) -> None:
    # mealie-recipes/mealie, mealie/pkgs/cache/cache_key.py (shortened): the only "length" in a
    # service whose request models bound nothing.
    key = (
        "import random\nimport string\n\n"
        "def new_key(length=4) -> str:\n"
        "    return ''.join(random.choices(string.ascii_letters, k=length))\n"
    )
    report = audit(_fastapi(tmp_path / "parameter", {"app/cache_key.py": key}))
    assert outcome(report, "SEC-1", "bounded fields") is Outcome.MISSING
    # marshmallow's validator still counts.
    schema = (
        "from marshmallow import Schema, fields, validate\n\n"
        "class ItemSchema(Schema):\n"
        "    name = fields.Str(validate=validate.Length(max=80))\n"
    )
    report = audit(_fastapi(tmp_path / "validator", {"app/schemas.py": schema}))
    assert outcome(report, "SEC-1", "bounded fields") is Outcome.MET


# getredash/redash, redash/models/users.py (shortened): the key is a column kept in clear and
# looked up as it is; the md5 is the Gravatar URL's.
REDASH_USER = """\
import hashlib

from sqlalchemy import Column, String

from app.base import Base, generate_token


class User(Base):
    api_key = Column(String(40), default=lambda: generate_token(40), unique=True)

    def regenerate_api_key(self):
        self.api_key = generate_token(40)

    @property
    def profile_image_url(self):
        email_md5 = hashlib.md5(self.email.lower().encode(), usedforsecurity=False).hexdigest()
        return "https://www.gravatar.com/avatar/{}".format(email_md5)
"""


def test_audit_a_gravatar_hash_beside_a_clear_api_key_is_no_hashed_key(tmp_path: Path) -> None:
    report = audit(_fastapi(tmp_path / "clear", {"app/users.py": REDASH_USER}))
    assert outcome(report, "SEC-3", "API keys stored hashed") is Outcome.MISSING
    hashed = REDASH_USER.replace(
        "        self.api_key = generate_token(40)\n",
        "        self.api_key = hashlib.sha256(generate_token(40).encode()).hexdigest()\n",
    )
    report = audit(_fastapi(tmp_path / "hashed", {"app/users.py": hashed}))
    assert outcome(report, "SEC-3", "API keys stored hashed") is Outcome.MET


def test_audit_a_template_file_variable_is_no_mounted_secret(tmp_path: Path) -> None:
    # getredash/redash, redash/settings/__init__.py: a mail template's path read from a _FILE
    # variable, in a service whose secrets all come from the environment.
    template = (
        "import os\n\n"
        "SECRET_KEY = os.environ.get('REDASH_SECRET_KEY')\n"
        "MAIL_TEMPLATE = os.environ.get('REDASH_ALERTS_DEFAULT_MAIL_BODY_TEMPLATE_FILE')\n"
    )
    report = audit(_fastapi(tmp_path / "template", {"app/settings.py": template}))
    requirement = "mounted secret files or a secrets manager"
    assert outcome(report, "CFG-2", requirement) is Outcome.MISSING
    # Docker's convention for a secret's file still counts.
    mounted = template + "PASSWORD = open(os.environ.get('POSTGRES_PASSWORD_FILE')).read()\n"
    report = audit(_fastapi(tmp_path / "mounted", {"app/settings.py": mounted}))
    assert outcome(report, "CFG-2", requirement) is Outcome.MET


# mealie-recipes/mealie, mealie/app.py (shortened): the lifespan starts things and, after its
# yield, only logs.
LOGGING_LIFESPAN = """\
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app.db import engine, start_scheduler


@asynccontextmanager
async def lifespan_fn(_: FastAPI):
    await start_scheduler()
    yield
    print("-----SYSTEM SHUTDOWN-----")


app = FastAPI(lifespan=lifespan_fn)
"""


def test_audit_a_lifespan_that_only_logs_after_its_yield_closes_nothing(tmp_path: Path) -> None:
    def closes(main: str, **files: str) -> Outcome:
        root = _fastapi(tmp_path / str(len(list(tmp_path.iterdir()))), {"app/main.py": main})
        for path, text in files.items():
            (root / path).write_text(text)
        return outcome(audit(root), "INF-3", "resources closed on shutdown")

    db = "engine = object()\n\nasync def start_scheduler():\n    pass\n"
    assert closes(LOGGING_LIFESPAN, **{"app/db.py": db}) is Outcome.MISSING
    # A helper called `shutdown` that only logs closes nothing either.
    helper = db + "\ndef shutdown():\n    print('bye')\n"
    only_logs = LOGGING_LIFESPAN.replace("from app.db import", "from app.db import shutdown,")
    only_logs = only_logs.replace('    print("-----SYSTEM SHUTDOWN-----")\n', "    shutdown()\n")
    assert closes(only_logs, **{"app/db.py": helper}) is Outcome.MISSING
    # A close after the yield, in a finally around it, or an `async with` spanning it counts.
    disposed = LOGGING_LIFESPAN.replace(
        '    print("-----SYSTEM SHUTDOWN-----")\n', "    await engine.dispose()\n"
    )
    assert closes(disposed, **{"app/db.py": db}) is Outcome.MET
    in_finally = LOGGING_LIFESPAN.replace(
        "    yield\n", "    try:\n        yield\n    finally:\n        await engine.dispose()\n"
    )
    assert closes(in_finally, **{"app/db.py": db}) is Outcome.MET
    # A factory's lifespan (the chassis's shape), its resources opened by `async with`.
    factory = (
        "from contextlib import asynccontextmanager\n\nfrom fastapi import FastAPI\n\n"
        "from app.db import open_pool\n\n\n"
        "def make_lifespan(settings):\n"
        "    @asynccontextmanager\n"
        "    async def lifespan(app: FastAPI):\n"
        "        async with open_pool(settings) as pool:\n"
        "            yield\n"
        "        print('closed')\n\n"
        "    return lifespan\n\n\n"
        "app = FastAPI(lifespan=make_lifespan(None))\n"
    )
    assert closes(factory, **{"app/db.py": "def open_pool(settings):\n    pass\n"}) is Outcome.MET


def test_audit_takes_the_image_that_starts_the_service_before_a_base_image(
    tmp_path: Path,
) -> None:
    # wger-project/wger, extras/docker/: base/ (the common packages, no CMD) sorted before
    # production/ (multi-stage, USER, CMD) and was judged as the image; demo/ ends as root.
    root = _fastapi(
        tmp_path,
        {
            "extras/docker/base/Dockerfile": "FROM ubuntu:24.04\nRUN apt install -y python3\n",
            "extras/docker/demo/Dockerfile": "FROM wger/base AS builder\nRUN pip wheel -w /w .\n"
            "FROM wger/base AS final\nCOPY --from=builder /w /w\nUSER root\n"
            'CMD ["/usr/sbin/apache2ctl", "-D", "FOREGROUND"]\n',
            "extras/docker/production/Dockerfile": "FROM wger/base AS builder\n"
            "RUN pip wheel -w /w .\nFROM wger/base AS final\nCOPY --from=builder /w /w\n"
            'USER wger\nCMD ["/home/wger/entrypoint.sh"]\n',
        },
    )
    report = audit(root)
    stages = next(r for r in report.result("OPS-1").requirements if r.name == "multi-stage build")
    assert stages.outcome is Outcome.MET
    assert {e.path for e in stages.evidence} == {"extras/docker/production/Dockerfile"}
    assert outcome(report, "OPS-1", "non-root user") is Outcome.MET


# getredash/redash, redash/app.py (shortened): Flask's static folder, the built front end, given
# through the kwargs of a subclass.
REDASH_APP = """\
from flask import Flask

STATIC_ASSETS_PATH = "../client/dist/"


class Redash(Flask):
    def __init__(self, *args, **kwargs):
        kwargs.update({"static_folder": STATIC_ASSETS_PATH, "static_url_path": "/static"})
        super().__init__(__name__, *args, **kwargs)
"""


def test_audit_a_flask_static_folder_in_the_app_s_kwargs_serves_assets(tmp_path: Path) -> None:
    root = write(
        tmp_path,
        {
            "pyproject.toml": "[project]\nname = 'x'\ndependencies = ['flask']\n",
            "app/__init__.py": "",
            "app/app.py": REDASH_APP,
        },
    )
    report = audit(root)
    assert report.result("PERF-3").not_applicable is None
    assert outcome(report, "PERF-3", "CDN base URL setting") is Outcome.MISSING


# wger-project/wger, extras/docker/production/entrypoint.sh (its shape): the image's exec-form CMD
# runs a script whose last line starts gunicorn without `exec`, so bash stays PID 1.
WGER_ENTRYPOINT = """\
#!/bin/bash
python3 manage.py migrate
if [[ "$WGER_USE_GUNICORN" == "True" ]]; then
    echo "Using gunicorn..."
    gunicorn wger.wsgi:application --bind 0.0.0.0:8000
fi
"""


def _entrypoint_image(root: Path, script: str) -> Path:
    return _fastapi(
        root,
        {
            "Dockerfile": "FROM python:3.13 AS build\nRUN pip wheel -w /w .\n"
            "FROM python:3.13-slim\nCOPY --from=build /w /w\nUSER app\n"
            'CMD ["/home/app/entrypoint.sh"]\n',
            "entrypoint.sh": script,
        },
    )


def test_audit_an_entry_point_script_that_does_not_exec_keeps_signals(tmp_path: Path) -> None:
    held = audit(_entrypoint_image(tmp_path / "held", WGER_ENTRYPOINT))
    signals = next(
        r for r in held.result("INF-3").requirements if r.name == "signals reach the server"
    )
    assert signals.outcome is Outcome.MISSING
    assert [(e.path, e.line) for e in signals.evidence] == [("entrypoint.sh", 5)]
    execs = WGER_ENTRYPOINT.replace("    gunicorn", "    exec gunicorn")
    assert (
        outcome(
            audit(_entrypoint_image(tmp_path / "exec", execs)), "INF-3", "signals reach the server"
        )
        is Outcome.MET
    )
    passes_on = WGER_ENTRYPOINT.replace("if [[", 'exec "$@"\nif [[')
    assert (
        outcome(
            audit(_entrypoint_image(tmp_path / "args", passes_on)),
            "INF-3",
            "signals reach the server",
        )
        is Outcome.MET
    )


# getredash/redash (its shape): a query runner named for the product it reads, registered in its
# own module and loaded by a dotted string, and the handlers of its Query objects in queries.py.
REDASH_RUNNER = """\
from app.query_runner import BaseQueryRunner, register


class AmazonElasticsearchService(BaseQueryRunner):
    def run_query(self, query, user):
        return self.search(query)


register(AmazonElasticsearchService)
"""
REDASH_QUERIES = """\
from flask import Blueprint

from app.models import Query

routes = Blueprint("queries", __name__)


@routes.route("/api/queries/<int:query_id>")
def query(query_id):
    return Query.get_by_id(query_id).to_dict()
"""


def _flask_layers(root: Path, files: dict[str, str]) -> Path:
    return write(
        root,
        {
            "pyproject.toml": "[project]\nname = 'x'\ndependencies = ['flask', 'sqlalchemy']\n",
            "app/__init__.py": "",
            "app/query_runner/__init__.py": "class BaseQueryRunner:\n    pass\n\n\n"
            "def register(runner):\n    return runner\n",
            "app/query_runner/amazon_elasticsearch.py": REDASH_RUNNER,
            "app/models.py": "class Query:\n    pass\n",
            **files,
        },
    )


def test_audit_a_class_named_for_a_product_is_no_service_layer(tmp_path: Path) -> None:
    report = audit(_flask_layers(tmp_path / "runner", {"app/handlers/queries.py": REDASH_QUERIES}))
    layers = next(
        r for r in report.result("ARCH-1").requirements if r.name == "service and repository layers"
    )
    assert layers.outcome is Outcome.MISSING
    assert layers.detail == "missing layer: services and repositories"
    # A service the handler calls, and a module of queries apart from the handlers, both count.
    calling = REDASH_QUERIES.replace(
        "from app.models import Query", "from app.billing import BillingService"
    )
    calling = calling.replace("Query.get_by_id(query_id)", "BillingService().invoice(query_id)")
    served = _flask_layers(
        tmp_path / "service",
        {
            "app/handlers/queries.py": calling,
            "app/billing.py": "from app.db.queries import invoices\n\n\nclass BillingService:\n"
            "    def invoice(self, query_id):\n        return invoices(query_id)\n",
            "app/db/__init__.py": "",
            "app/db/queries.py": "def invoices(query_id):\n    return []\n",
        },
    )
    assert outcome(audit(served), "ARCH-1", "service and repository layers") is Outcome.MET


# getredash/redash, redash/handlers/query_results.py (its shape): the Origin header read to echo
# an allowed one back in Access-Control-Allow-Origin, CORS for embeds, never refusing a request.
REDASH_CORS = """\
ALLOWED_ORIGINS = {"https://dashboards.example.com"}


def add_cors_headers(request, headers):
    if "Origin" in request.headers:
        origin = request.headers["Origin"]
        if {"*", origin} & ALLOWED_ORIGINS:
            headers["Access-Control-Allow-Origin"] = origin
"""


def test_audit_an_origin_echoed_in_cors_headers_is_no_same_origin_check(tmp_path: Path) -> None:
    report = audit(_cookie_service(tmp_path / "cors", {"app/cors.py": REDASH_CORS}))
    assert outcome(report, "SEC-2", "same-origin check") is Outcome.MISSING
    # The same function turning a foreign Origin away checks it.
    refusing = REDASH_CORS.replace(
        "        if {",
        "        if origin not in ALLOWED_ORIGINS:\n"
        "            raise PermissionError(origin)\n        if {",
    )
    report = audit(_cookie_service(tmp_path / "refusing", {"app/cors.py": refusing}))
    assert outcome(report, "SEC-2", "same-origin check") is Outcome.MET


# getredash/redash (its shape): webpack names the bundles by content hash, and the app looks each
# name up in the manifest the bundler writes beside them.
REDASH_WEBPACK = """\
module.exports = {
  output: {
    path: path.join(__dirname, "client", "dist"),
    filename: isProduction ? "[name].[chunkhash].js" : "[name].js",
  },
  plugins: [new WebpackManifestPlugin({ fileName: "asset-manifest.json" })],
};
"""
REDASH_MANIFEST_LOOKUP = """\
import json
import os

MANIFEST = os.path.join(os.path.dirname(__file__), "../client/dist/", "asset-manifest.json")


def asset(path):
    with open(MANIFEST) as manifest:
        return json.load(manifest).get(path, path)
"""


def _flask_assets(root: Path, files: dict[str, str]) -> Path:
    return write(
        root,
        {
            "pyproject.toml": "[project]\nname = 'x'\ndependencies = ['flask']\n",
            "app/__init__.py": "",
            "app/app.py": REDASH_APP,
            **files,
        },
    )


def test_audit_a_bundler_s_hashed_names_are_fingerprints(tmp_path: Path) -> None:
    plain = audit(_flask_assets(tmp_path / "plain", {}))
    assert outcome(plain, "PERF-3", "fingerprinted file names") is Outcome.MISSING
    configured = audit(_flask_assets(tmp_path / "webpack", {"webpack.config.js": REDASH_WEBPACK}))
    fingerprints = next(
        r for r in configured.result("PERF-3").requirements if r.name == "fingerprinted file names"
    )
    assert fingerprints.outcome is Outcome.MET
    assert ("webpack.config.js", 4) in [(e.path, e.line) for e in fingerprints.evidence]
    looked_up = audit(
        _flask_assets(tmp_path / "manifest", {"app/assets.py": REDASH_MANIFEST_LOOKUP})
    )
    assert outcome(looked_up, "PERF-3", "fingerprinted file names") is Outcome.MET


# mealie-recipes/mealie (its shape): class-based views whose base class asks for the user as a
# class attribute, a router class that passes the same dependency to APIRouter, and the
# dependency re-exported by its package with `from .auth import *`.
MEALIE_AUTH = """\
import jwt
from fastapi import HTTPException, Request


async def get_current_user(request: Request) -> dict[str, str]:
    try:
        return jwt.decode(request.cookies["token"], "secret", algorithms=["HS256"])
    except jwt.PyJWTError as error:
        raise HTTPException(401) from error
"""
MEALIE_CONTROLLERS = """\
from fastapi import APIRouter, Depends

from app.dependencies import get_current_user


class UserAPIRouter(APIRouter):
    def __init__(self, prefix: str = "", **kwargs):
        super().__init__(prefix=prefix, dependencies=[Depends(get_current_user)], **kwargs)


def controller(router):
    def decorator(cls):
        return cls  # mealie's makes FastAPI resolve the class attributes per request

    return decorator


class BasePublicController:
    pass


class BaseUserController:
    user: dict[str, str] = Depends(get_current_user)
"""
MEALIE_ROUTES = """\
from fastapi import APIRouter

from app.controllers import BasePublicController, BaseUserController, UserAPIRouter, controller

router = APIRouter(prefix="/recipes")
tags = UserAPIRouter(prefix="/tags")


@controller(router)
class RecipeController(BaseUserController):
    @router.get("")
    def recipes(self):
        return [self.user]


@controller(router)
class ExploreController(BasePublicController):
    @router.get("/explore")
    def explore(self):
        return []


@tags.get("")
def all_tags():
    return []
"""


def test_audit_a_class_based_view_s_user_attribute_and_a_router_class_authenticate(
    tmp_path: Path,
) -> None:
    root = write(
        tmp_path,
        {
            "pyproject.toml": "[project]\nname = 'x'\ndependencies = ['fastapi', 'pyjwt']\n",
            "app/__init__.py": "",
            "app/dependencies/__init__.py": "from .auth import *\n",
            "app/dependencies/auth.py": MEALIE_AUTH,
            "app/controllers.py": MEALIE_CONTROLLERS,
            "app/routes.py": MEALIE_ROUTES,
            "app/main.py": "from fastapi import FastAPI\n\nfrom app import routes\n\n"
            "app = FastAPI()\napp.include_router(routes.router, prefix='/api')\n"
            "app.include_router(routes.tags, prefix='/api')\n",
        },
    )
    access = {route.path: route.access for route in audit(root).routes}
    assert access == {
        "/api/recipes": "authenticated",
        "/api/recipes/explore": "open",
        "/api/tags": "authenticated",
    }


# Round four: healthchecks/healthchecks, freedomofpress/securedrop, Chainlit/chainlit.
# healthchecks' hc/settings.py (shortened): every secret may come from NAME_FILE, and an unset
# SECRET_KEY or DEBUG falls back to a development value.
HEALTHCHECKS_SETTINGS = """\
import os
from pathlib import Path


def envbool(s, default):
    return os.getenv(s, default=default) == "True"


def envsecret(s, default=None):
    if secret_path := os.getenv(s + "_FILE"):
        return Path(secret_path).read_text().strip()
    return os.getenv(s, default)


SECRET_KEY = envsecret("SECRET_KEY", "---")
DEBUG = envbool("DEBUG", "True")
INSTALLED_APPS = ["django.contrib.auth"]
MIDDLEWARE = []
"""


def _django_settings(root: Path, settings: str) -> Path:
    return write(
        root, {"requirements.txt": "django\n", "manage.py": "", "hc/settings.py": settings}
    )


def test_audit_a_secret_key_and_debug_falling_back_to_development_values_are_not_refused(
    tmp_path: Path,
) -> None:
    report = audit(_django_settings(tmp_path / "defaults", HEALTHCHECKS_SETTINGS))
    assert outcome(report, "CFG-1", "production refuses development defaults") is Outcome.MISSING
    required = HEALTHCHECKS_SETTINGS.replace(', "---")', ")").replace('"True")', '"False")')
    report = audit(_django_settings(tmp_path / "required", required))
    assert outcome(report, "CFG-1", "production refuses development defaults") is Outcome.MET


def test_audit_a_helper_reading_name_plus_file_for_a_secret_is_a_mounted_secret(
    tmp_path: Path,
) -> None:
    report = audit(_django_settings(tmp_path / "file", HEALTHCHECKS_SETTINGS))
    requirement = "mounted secret files or a secrets manager"
    assert outcome(report, "CFG-2", requirement) is Outcome.MET
    only_environment = HEALTHCHECKS_SETTINGS.replace('s + "_FILE"', "s")
    report = audit(_django_settings(tmp_path / "environment", only_environment))
    assert outcome(report, "CFG-2", requirement) is Outcome.MISSING


# securedrop's journalist_app/sessions.py (shortened): Flask sessions kept in Redis.
SECUREDROP_SESSIONS = """\
from flask.sessions import SessionInterface as FlaskSessionInterface
from redis import Redis


class SessionInterface(FlaskSessionInterface):
    def __init__(self):
        self.redis = Redis()

    def open_session(self, app, request):
        return self.redis.get("session:" + request.cookies["sid"])

    def save_session(self, app, session, response):
        self.redis.setex(name="session:" + session.sid, value=session.data, time=7200)
        self.redis.set(name="session:" + session.sid, value=session.data, ex=7200, xx=True)
"""


def test_audit_sessions_kept_in_redis_with_an_expiry_are_no_cache(tmp_path: Path) -> None:
    files = {
        "requirements.txt": "flask\nredis\n",
        "app/__init__.py": "from flask import Flask\n\napp = Flask(__name__)\n",
        "app/sessions.py": SECUREDROP_SESSIONS,
    }
    report = audit(write(tmp_path / "sessions", files))
    assert outcome(report, "PERF-1", "cache layer") is Outcome.MISSING
    cached = SECUREDROP_SESSIONS.replace(
        "class SessionInterface(FlaskSessionInterface)", "class Reports"
    )
    cached = cached.replace("def open_session", "def read").replace("def save_session", "def write")
    report = audit(write(tmp_path / "cache", {**files, "app/sessions.py": cached}))
    assert outcome(report, "PERF-1", "cache layer") is Outcome.MET


# chainlit's tests/data/test_chainlit_data_layer.py (shortened): the data layer is given a
# database URL, then its query method is replaced by a mock.
CHAINLIT_DATA_LAYER_TEST = """\
from unittest.mock import AsyncMock

from app.data import DataLayer


async def test_get_user():
    layer = DataLayer(database_url="postgresql://test")
    layer.execute_query = AsyncMock(return_value=[{"id": "1"}])
    assert await layer.get_user("1")
"""


def test_audit_a_database_url_given_to_an_object_whose_queries_are_mocked_is_no_real_server(
    tmp_path: Path,
) -> None:
    files = {
        "requirements.txt": "fastapi\nasyncpg\n",
        "app/data.py": "import asyncpg\n\n\nclass DataLayer:\n    pass\n",
        "tests/test_data.py": CHAINLIT_DATA_LAYER_TEST,
    }
    report = audit(write(tmp_path / "mocked", files))
    assert outcome(report, "TEST-1", "against real databases") is Outcome.MISSING
    real = CHAINLIT_DATA_LAYER_TEST.replace(
        '    layer.execute_query = AsyncMock(return_value=[{"id": "1"}])\n', ""
    )
    report = audit(write(tmp_path / "real", {**files, "tests/test_data.py": real}))
    assert outcome(report, "TEST-1", "against real databases") is Outcome.MET
