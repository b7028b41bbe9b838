"""Evidence that holds: a verdict rests on what the code does, never on a name or an import.

Each case is a pair of small services that differ in behaviour only, with the names kept the
same: the audit must tell them apart. Then route discovery through the frameworks' mechanisms,
access decided by what runs before the handler, and the report's wording.
"""

from __future__ import annotations

from pathlib import Path

from goldenpath.audit import Report, audit
from goldenpath.audit.model import Outcome
from tests.support.samples import access, outcome, write

FASTAPI = """
from fastapi import FastAPI
app = FastAPI()

@app.get("/v1/items")
async def items() -> list[str]:
    return []
"""


def _service(root: Path, files: dict[str, str], requirements: str = "fastapi\n") -> Report:
    return audit(write(root, {"requirements.txt": requirements, "app.py": FASTAPI, **files}))


def test_audit_a_variable_named_secret_is_not_a_secret_type(tmp_path: Path) -> None:
    named = _service(
        tmp_path / "named", {"sign.py": "def sign(secret: str) -> str:\n    return secret\n"}
    )
    assert outcome(named, "CFG-2", "secrets typed as secrets") is Outcome.MISSING
    typed = _service(
        tmp_path / "typed",
        {
            "config.py": "from pydantic import SecretStr\n"
            "from pydantic_settings import BaseSettings\n"
            "class Settings(BaseSettings):\n    secret: SecretStr\n"
        },
    )
    assert outcome(typed, "CFG-2", "secrets typed as secrets") is Outcome.MET


RETRY = """
import httpx
from tenacity import retry, stop_after_attempt, stop_after_delay, {waits}

@retry(stop=stop_after_attempt(5) | stop_after_delay(10), wait={wait})
def fetch(url: str) -> bytes:
    return httpx.get(url, timeout=2).content
"""


def test_audit_tenacity_with_a_fixed_wait_is_not_exponential_backoff(tmp_path: Path) -> None:
    requirements = "fastapi\nhttpx\ntenacity\n"
    fixed = _service(
        tmp_path / "fixed",
        {"client.py": RETRY.format(waits="wait_fixed", wait="wait_fixed(1)")},
        requirements,
    )
    assert outcome(fixed, "RES-2", "retries with exponential backoff") is Outcome.MISSING
    assert "wait_fixed" in fixed.result("RES-2").requirements[0].detail
    imported = _service(
        tmp_path / "imported", {"client.py": "import httpx\nimport tenacity\n"}, requirements
    )
    assert outcome(imported, "RES-2", "retries with exponential backoff") is Outcome.MISSING
    exponential = _service(
        tmp_path / "exponential",
        {
            "client.py": RETRY.format(
                waits="wait_random_exponential", wait="wait_random_exponential(max=5)"
            )
        },
        requirements,
    )
    assert exponential.result("RES-2").requirements[0].outcome is Outcome.MET
    assert outcome(exponential, "RES-2", "jitter") is Outcome.MET
    assert outcome(exponential, "RES-2", "bounded, with an overall deadline") is Outcome.MET


def test_audit_importing_requests_timeout_is_no_overall_deadline(tmp_path: Path) -> None:
    report = _service(
        tmp_path,
        {
            "client.py": "import backoff\nimport requests\nfrom requests import Timeout\n\n"
            "@backoff.on_exception(backoff.expo, Timeout, max_tries=4)\n"
            "def get(url):\n    return requests.get(url, timeout=5)\n"
        },
        "fastapi\nrequests\nbackoff\n",
    )
    assert outcome(report, "RES-2", "retries with exponential backoff") is Outcome.MET
    deadline = next(r for r in report.result("RES-2").requirements if r.name.startswith("bounded"))
    assert deadline.outcome is Outcome.MISSING
    assert "an overall deadline" in deadline.detail


def test_audit_an_enum_named_after_rate_limits_is_no_rate_limiter(tmp_path: Path) -> None:
    enum = _service(
        tmp_path / "enum",
        {"limits.py": "import enum\nclass RateLimitTier(enum.Enum):\n    FREE = 'free'\n"},
    )
    assert outcome(enum, "SEC-4", "rate limiter") is Outcome.MISSING
    slowapi = _service(
        tmp_path / "slowapi",
        {
            "limits.py": "from slowapi import Limiter\n"
            "from slowapi.util import get_remote_address\n"
            "limiter = Limiter(key_func=get_remote_address)\n"
        },
        "fastapi\nslowapi\n",
    )
    assert outcome(slowapi, "SEC-4", "rate limiter") is Outcome.MET
    assert outcome(slowapi, "SEC-4", "shared store") is Outcome.MISSING


CONTRACT = """
import schemathesis
from app import app

schema = schemathesis.openapi.from_asgi("/openapi.json", app)

{decorator}
def test_api(case):
    case.call_and_validate()
"""


def test_audit_a_commented_out_contract_test_and_the_word_breaking_prove_nothing(
    tmp_path: Path,
) -> None:
    requirements = "fastapi\nschemathesis\n"
    commented = _service(
        tmp_path / "commented",
        {
            "tests/test_contract.py": "import schemathesis\n"
            "# @schema.parametrize()\n# def test_api(case): ...\n",
            "tests/test_words.py": "def test_news():\n    assert 'breaking' in 'breaking news'\n",
        },
        requirements,
    )
    assert outcome(commented, "TEST-3", "property-based API tests") is Outcome.MISSING
    assert outcome(commented, "TEST-3", "breaking changes fail the build") is Outcome.MISSING
    running = _service(
        tmp_path / "running",
        {"tests/test_contract.py": CONTRACT.format(decorator="@schema.parametrize()")},
        requirements,
    )
    assert outcome(running, "TEST-3", "property-based API tests") is Outcome.MET


def test_audit_a_test_named_after_a_downgrade_is_no_round_trip(tmp_path: Path) -> None:
    migration = (
        "import sqlalchemy as sa\nfrom alembic import op\nrevision = 'a1'\ndown_revision = None\n"
        "def upgrade():\n    op.create_table('t', sa.Column('id', sa.Integer))\n"
        "def downgrade():\n    op.drop_table('t')\n"
    )
    files = {"migrations/versions/a1.py": migration, "db.py": "import sqlalchemy\n"}
    requirements = "fastapi\nsqlalchemy\npsycopg\nalembic\n"
    named = _service(
        tmp_path / "named",
        {**files, "tests/test_migrations.py": "def test_downgrade_is_listed():\n    assert True\n"},
        requirements,
    )
    assert outcome(named, "DB-2", "round trip tested") is Outcome.MISSING
    helper = (
        "from alembic import command\n\n"
        "def roll_back(config, revision):\n    command.downgrade(config, revision)\n"
    )
    tested = _service(
        tmp_path / "tested",
        {
            **files,
            "support/migrate.py": helper,
            "tests/test_migrations.py": "from support.migrate import roll_back\n\n"
            "def test_round_trip(config):\n    roll_back(config, 'base')\n",
        },
        requirements,
    )
    assert outcome(tested, "DB-2", "round trip tested") is Outcome.MET


def test_audit_worker_counts_in_uwsgi_ini_and_entry_point_scripts(tmp_path: Path) -> None:
    uwsgi = _service(
        tmp_path / "uwsgi",
        {
            "Dockerfile": 'FROM python:3.12\nCMD ["uwsgi", "/app/deploy/uwsgi.ini"]\n',
            "deploy/uwsgi.ini": "[uwsgi]\nmodule = app:app\nprocesses = 4\n",
        },
    )
    assert outcome(uwsgi, "INF-1", "no in-process workers") is Outcome.MISSING
    script = _service(
        tmp_path / "script",
        {
            "Dockerfile": 'FROM python:3.12\nENTRYPOINT ["/app/bin/start"]\n',
            "bin/start": "#!/bin/sh\nexec gunicorn -w${WORKERS:-4} app:app\n",
        },
    )
    requirement = next(
        r for r in script.result("INF-1").requirements if r.name == "no in-process workers"
    )
    assert requirement.outcome is Outcome.MISSING
    assert "4 worker processes" in " ".join(str(e) for e in requirement.evidence)


def test_audit_routes_under_mounts_settings_prefixes_and_starlette_lists(tmp_path: Path) -> None:
    report = audit(
        write(
            tmp_path,
            {
                "requirements.txt": "fastapi\nstarlette\n",
                "config.py": "from pydantic_settings import BaseSettings\n"
                "class Settings(BaseSettings):\n    API_PREFIX: str = '/api/v1'\n"
                "settings = Settings()\n",
                "api.py": "from fastapi import APIRouter\nrouter = APIRouter(prefix='/items')\n\n"
                "@router.get('')\nasync def items() -> list[str]:\n    return []\n",
                "main.py": "from fastapi import FastAPI\n"
                "from starlette.staticfiles import StaticFiles\n"
                "from config import settings\nimport api\n"
                "inner = FastAPI()\ninner.include_router(api.router, prefix=settings.API_PREFIX)\n"
                "app = FastAPI()\napp.mount('/public', inner)\n"
                "app.mount('/static', StaticFiles(directory='static'))\n",
                "web.py": "from starlette.applications import Starlette\n"
                "from starlette.routing import Mount, Route\n\n"
                "async def health(request):\n    ...\n\nasync def orders(request):\n    ...\n\n"
                "api_routes = [Route('/orders', orders, methods=['GET', 'POST'])]\n"
                "site = Starlette(\n    routes=[Route('/health', health), "
                "Mount('/v2', routes=api_routes)]\n)\n",
            },
        )
    )
    assert access(report) == {
        "GET /public/api/v1/items": "open",
        "ANY /static": "infrastructure",
        "GET /health": "infrastructure",
        "GET|POST /v2/orders": "open",
    }


ACCESS = """
from typing import Annotated
import jwt
from fastapi import APIRouter, Depends, HTTPException
from fastapi.security import HTTPBearer, HTTPAuthorizationCredentials
from sqlalchemy.orm import Session
from some_identity_sdk import verify_caller

bearer = HTTPBearer()

def get_db():
    yield Session()

def current_user(credentials: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> str:
    try:
        return jwt.decode(credentials.credentials, "k", algorithms=["HS256"])["sub"]
    except jwt.InvalidTokenError:
        raise HTTPException(401)

async def public_route() -> None:
    \"\"\"Open to anyone, deliberately.\"\"\"

CurrentUser = Annotated[str, Depends(current_user)]
UserSession = Annotated[Session, Depends(get_db)]
router = APIRouter(prefix="/v1")

@router.post("/signup")
def signup(session: UserSession) -> dict[str, str]:
    return {}

@router.get("/me")
def me(user: CurrentUser) -> dict[str, str]:
    return {}

@router.get("/token-only")
def token_only(token: Annotated[HTTPAuthorizationCredentials, Depends(bearer)]) -> dict[str, str]:
    return {}

@router.get("/about", dependencies=[Depends(public_route)])
def about() -> dict[str, str]:
    return {}

@router.get("/partner", dependencies=[Depends(verify_caller)])
def partner() -> dict[str, str]:
    return {}
"""


def test_audit_access_comes_from_what_runs_before_the_handler(tmp_path: Path) -> None:
    """A session parameter is no authentication; a bearer scheme alone reads a token but does
    not verify it; a dependency that verifies and refuses is; a no-op `public_route` is an
    explicit mark; an authentication dependency from an unread library cannot be judged."""
    report = audit(write(tmp_path, {"requirements.txt": "fastapi\npyjwt\n", "routes.py": ACCESS}))
    assert access(report) == {
        "POST /v1/signup": "open",
        "GET /v1/me": "authenticated",
        "GET /v1/token-only": "open",
        "GET /v1/about": "public",
        "GET /v1/partner": "undetermined",
    }
    requirement = next(
        r for r in report.result("SEC-3").requirements if r.name == "every route declares access"
    )
    assert requirement.outcome is Outcome.MISSING
    assert "/v1/signup" in requirement.detail


def test_audit_flask_and_django_access_mechanisms(tmp_path: Path) -> None:
    flask = audit(
        write(
            tmp_path / "flask",
            {
                "requirements.txt": "flask\n",
                "app.py": "from flask import Blueprint, Flask, abort, request\n"
                "app = Flask(__name__)\n"
                "admin = Blueprint('admin', __name__, url_prefix='/admin-api')\n\n"
                "@admin.before_request\ndef require_key():\n"
                "    if request.headers.get('X-Api-Key') != 'k':\n        abort(401)\n\n"
                "@admin.route('/users')\ndef users():\n    return []\n\n"
                "@app.route('/')\ndef index():\n    return 'hi'\n\n"
                "app.register_blueprint(admin)\n",
            },
        )
    )
    assert access(flask) == {"GET /admin-api/users": "authenticated", "GET /": "open"}
    django = audit(
        write(
            tmp_path / "django",
            {
                "requirements.txt": "django\ndjangorestframework\n",
                "proj/settings.py": "ROOT_URLCONF = 'proj.urls'\n"
                "INSTALLED_APPS = ['rest_framework']\n"
                "MIDDLEWARE = []\nREST_FRAMEWORK = {'DEFAULT_PERMISSION_CLASSES': "
                "['rest_framework.permissions.IsAuthenticated']}\n",
                "proj/views.py": "from django.http import HttpResponse\n"
                "from rest_framework.decorators "
                "import api_view\nfrom rest_framework.views import APIView\n"
                "from rest_framework.permissions import AllowAny\n\n"
                "@api_view(['GET'])\ndef report(request):\n    return HttpResponse()\n\n"
                "class Badge(APIView):\n    permission_classes = [AllowAny]\n\n"
                "def plain(request):\n    return HttpResponse()\n",
                "proj/urls.py": "from django.urls import include, path\nfrom proj import views\n"
                "urlpatterns = [path('api/', include([path('report/', views.report), "
                "path('badge/', views.Badge.as_view())])), path('plain/', views.plain)]\n",
            },
        )
    )
    assert access(django) == {
        "ANY /api/report/": "authenticated",  # REST framework's default from the settings
        "ANY /api/badge/": "public",
        "ANY /plain/": "open",  # a plain Django view: REST framework's default does not apply
    }


def test_audit_report_wording_repeats_nothing_and_fits_the_framework(tmp_path: Path) -> None:
    django = audit(
        write(
            tmp_path,
            {
                "requirements.txt": "django\ndjangorestframework\n",
                "shop/settings.py": "ROOT_URLCONF = 'shop.urls'\nINSTALLED_APPS = []\n",
                "shop/views.py": "from rest_framework.decorators import api_view\n\n"
                "@api_view(['POST'])\ndef order(request):\n    return None\n",
                "shop/urls.py": "from django.contrib import admin\nfrom django.urls import path\n"
                "from shop import views\nurlpatterns = [path('admin/', admin.site.urls), "
                "path('orders/', views.order)]\n",
            },
        )
    )
    unknown_fields = next(
        r for r in django.result("SEC-1").requirements if r.name == "unknown fields rejected"
    )
    assert "extra=" not in unknown_fields.fix
    assert "serializer" in unknown_fields.fix
    assert {f"{r.method} {r.path}" for r in django.routes} == {"ANY /admin/", "ANY /orders/"}
    for result in django.results:
        for requirement in result.requirements:
            assert len(set(requirement.evidence)) == len(requirement.evidence), requirement


ASGI_LAYER = """
import logging

_log = logging.getLogger(__name__)


def report_failure(path: str) -> None:
    {report}


class RequestLayer:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception:
            report_failure(scope["path"])
            await send({{"type": "http.response.start", "status": 500, "headers": []}})
            await send({{"type": "http.response.body", "body": b""}})
"""


def test_audit_a_pure_asgi_layer_is_a_catch_all_and_logs_through_its_helper(
    tmp_path: Path,
) -> None:
    # Named like neither a middleware nor an error handler: what it does decides.
    logging_layer = _service(
        tmp_path / "logs",
        {"layer.py": ASGI_LAYER.format(report='_log.exception("unhandled", extra={"path": path})')},
    )
    assert outcome(logging_layer, "OBS-4", "catch-all handler") is Outcome.MET
    assert outcome(logging_layer, "OBS-4", "unexpected errors logged") is Outcome.MET
    silent = _service(tmp_path / "silent", {"layer.py": ASGI_LAYER.format(report="del path")})
    assert outcome(silent, "OBS-4", "catch-all handler") is Outcome.MET
    assert outcome(silent, "OBS-4", "unexpected errors logged") is Outcome.MISSING
    # A function of the same name elsewhere that logs is not the one the layer calls.
    namesake = _service(
        tmp_path / "namesake",
        {
            "layer.py": ASGI_LAYER.format(report="del path"),
            "jobs.py": "import logging\n\n"
            "def report_failure(path: str) -> None:\n"
            "    logging.getLogger(__name__).exception('job failed: %s', path)\n",
        },
    )
    assert outcome(namesake, "OBS-4", "unexpected errors logged") is Outcome.MISSING
