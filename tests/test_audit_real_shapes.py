"""Shapes found by checking the audit's verdicts by hand on real repositories (issue 17), each
cut down to the few lines that decide a verdict: a Django API view that hands each method to a
protected view (healthchecks), resource decorators summed from a base class and a handler
module called `setup.py` (redash), a plugin's router included at run time under a prefix, a pool
configured through a local dict with pre-ping off by default, cookies set but never read back
(dispatch), a router class made by a factory and dependencies built at run time (polar), a
settings validator that refuses values by environment (full-stack-fastapi-template), integer
primary keys beside one UUID, mapped classes of a declarative base; a trace_id in span links,
body-size histograms and the SDK's own configurator (saleor), a limiter keyed by address alone
behind proxies trusted with "*" (lnbits), an ActivityPub outbox view (bookwyrm); a linter's
rule samples in a hidden folder (saleor), REST framework's renderer, names that hold
"invalidate", hashes beside STATIC_URL and an `assets` app (jumpserver), variables called `le`
and a bot's class that looks like a breaker (freqtrade), routes added under an `if` (Flagsmith)."""

from __future__ import annotations

from pathlib import Path

import pytest

from goldenpath.audit import audit
from goldenpath.audit.model import Outcome
from tests.support.samples import access, outcome, write


def test_audit_django_view_dispatching_to_protected_views_is_protected(tmp_path: Path) -> None:
    report = audit(
        write(
            tmp_path,
            {
                "requirements.txt": "django\n",
                "hc/settings.py": "ROOT_URLCONF = 'hc.urls'\nINSTALLED_APPS = []\n",
                "hc/decorators.py": "from django.http import JsonResponse\n\n"
                "def authorize(f):\n    def wrapper(request, *args):\n"
                "        if request.headers.get('X-Api-Key') != 'k':\n"
                "            return JsonResponse({}, status=401)\n"
                "        return f(request, *args)\n    return wrapper\n",
                "hc/views.py": "from hc.decorators import authorize\n\n"
                "@authorize\ndef get_checks(request):\n    return None\n\n"
                "@authorize\ndef create_check(request):\n    return None\n\n"
                "def checks(request):\n    if request.method == 'POST':\n"
                "        return create_check(request)\n    return get_checks(request)\n\n"
                "def unprotected(request):\n    return get_checks(request) or None\n",
                "hc/urls.py": "from django.urls import path\nfrom hc import views\n"
                "urlpatterns = [path('api/checks/', views.checks), "
                "path('api/other/', views.unprotected)]\n",
            },
        )
    )
    assert access(report) == {"ANY /api/checks/": "authenticated", "ANY /api/other/": "open"}


def test_audit_flask_restful_decorators_summed_from_a_base_resource(tmp_path: Path) -> None:
    report = audit(
        write(
            tmp_path,
            {
                "pyproject.toml": "[project]\nname = 'x'\ndependencies = ['flask-restful']\n",
                "app/__init__.py": "",
                "app/handlers/__init__.py": "",
                "app/handlers/setup.py": "from flask import Blueprint\n"
                "bp = Blueprint('setup', __name__)\n",
                "app/handlers/base.py": "from flask_login import login_required\n"
                "from flask_restful import Resource\n\n"
                "class BaseResource(Resource):\n    decorators = [login_required]\n\n"
                "    def get(self):\n        return []\n",
                "app/handlers/users.py": "from app.handlers.base import BaseResource\n\n"
                "def throttled(f):\n    return f\n\n"
                "class UserList(BaseResource):\n"
                "    decorators = BaseResource.decorators + [throttled]\n\n"
                "    def post(self):\n        return {}\n",
                "app/api.py": "from flask_restful import Api\n"
                "from app.handlers.users import UserList\n"
                "api = Api(prefix='/api')\napi.add_resource(UserList, '/users')\n",
            },
        )
    )
    # A handler module called setup.py is no project root: `app.handlers.users` still resolves.
    assert access(report) == {"GET|POST /api/users": "authenticated"}


def test_audit_a_router_included_at_run_time_is_listed_and_not_judged_unversioned(
    tmp_path: Path,
) -> None:
    report = audit(
        write(
            tmp_path,
            {
                "requirements.txt": "fastapi\n",
                "plugins/slack.py": "from fastapi import APIRouter\nrouter = APIRouter()\n\n"
                "@router.post('/slack/event')\n"
                "async def event() -> dict[str, str]:\n    return {}\n",
                "main.py": "from fastapi import APIRouter, FastAPI\n"
                "from plugins import registry\n"
                "api = APIRouter(prefix='/api/v1')\n\n"
                "@api.get('/items')\nasync def items() -> list[str]:\n    return []\n\n"
                "for plugin in registry():\n"
                "    api.include_router(plugin.router, prefix='/{organization}/events')\n"
                "app = FastAPI()\napp.include_router(api)\n",
            },
        )
    )
    unread = {item.path: item.reason for item in report.not_read}
    assert "included nowhere the audit can follow" in unread["plugins/slack.py:2"]
    assert outcome(report, "API-1", "business routes under /v1") is Outcome.UNDETERMINED


def test_audit_pool_options_in_a_local_dict_and_pre_ping_off_by_default(tmp_path: Path) -> None:
    report = audit(
        write(
            tmp_path,
            {
                "requirements.txt": "fastapi\nsqlalchemy\npsycopg\n",
                "config.py": "import os\nPOOL_SIZE = int(os.getenv('POOL_SIZE', '20'))\n",
                "db.py": "from sqlalchemy import create_engine\nimport config\n\n"
                "def make(url: str, *, pre_ping: bool = False):\n"
                "    options = {'pool_size': config.POOL_SIZE, 'max_overflow': 5, "
                "'pool_timeout': 30, 'pool_recycle': 600, 'pool_pre_ping': pre_ping}\n"
                "    return create_engine(url, **options)\n\n"
                "engine = make('postgresql://db/app')\n",
            },
        )
    )
    assert outcome(report, "DB-1", "pool size and overflow") is Outcome.MET
    assert outcome(report, "DB-1", "sized from settings") is Outcome.MET
    assert outcome(report, "DB-1", "recycle and pre-ping") is Outcome.MISSING


def test_audit_cookies_set_but_never_read_back_are_no_cookie_authentication(
    tmp_path: Path,
) -> None:
    forwarding = (
        "from fastapi import FastAPI, Response\napp = FastAPI()\n\n"
        "@app.get('/v1/oauth')\ndef oauth(response: Response) -> dict[str, str]:\n"
        "    response.set_cookie('state', 'x')\n    return {}\n"
    )
    report = audit(write(tmp_path / "set", {"requirements.txt": "fastapi\n", "app.py": forwarding}))
    assert report.result("SEC-2").not_applicable is not None
    reading = forwarding + (
        "\n@app.get('/v1/me')\ndef me(request: object) -> dict[str, str]:\n"
        "    return {'session': request.cookies.get('session', '')}\n"
    )
    report = audit(write(tmp_path / "read", {"requirements.txt": "fastapi\n", "app.py": reading}))
    assert report.result("SEC-2").not_applicable is None


def test_audit_django_session_cookie_secure_is_a_setting(tmp_path: Path) -> None:
    files = {
        "requirements.txt": "django\n",
        "proj/settings.py": "ROOT_URLCONF = 'proj.urls'\nINSTALLED_APPS = []\n"
        "MIDDLEWARE = ['django.contrib.sessions.middleware.SessionMiddleware', "
        "'django.middleware.csrf.CsrfViewMiddleware']\n",
        "proj/views.py": "from django.http import HttpResponse\n\n"
        "def remember(request):\n    response = HttpResponse()\n"
        "    response.set_cookie('remember', '1', secure=True, samesite='Lax')\n"
        "    return response\n",
        "proj/urls.py": "from django.urls import path\nfrom proj import views\n"
        "urlpatterns = [path('remember/', views.remember)]\n",
    }
    report = audit(write(tmp_path, files))
    assert outcome(report, "SEC-2", "cookies SameSite and Secure") is Outcome.MISSING


def test_audit_router_class_from_a_factory_and_dependencies_built_at_run_time(
    tmp_path: Path,
) -> None:
    report = audit(
        write(
            tmp_path,
            {
                "requirements.txt": "fastapi\n",
                "routing.py": "from fastapi import APIRouter as _APIRouter\n\n"
                "def router_class(route_class):\n"
                "    class _Router(_APIRouter):\n        pass\n    return _Router\n\n"
                "APIRouter = router_class(None)\n",
                "auth.py": "from typing import Annotated\nfrom fastapi import Depends\n\n"
                "def Authenticator(**options):\n"
                "    class _Signed:\n        async def __call__(self):\n            ...\n"
                "    return _Signed()\n\n"
                "Read = Annotated[str, Depends(Authenticator(scopes={'read'}))]\n",
                "endpoints.py": "from routing import APIRouter\nfrom auth import Read\n"
                "router = APIRouter(prefix='/v1/benefits')\n\n"
                "@router.get('/{id}')\nasync def get(id: str, subject: Read) -> dict[str, str]:\n"
                "    return {}\n",
                "app.py": "from fastapi import FastAPI\nfrom endpoints import router\n"
                "app = FastAPI()\napp.include_router(router)\n",
            },
        )
    )
    assert access(report) == {"GET /v1/benefits/{id}": "undetermined"}
    requirement = next(
        r for r in report.result("SEC-3").requirements if r.name == "every route declares access"
    )
    assert requirement.outcome is Outcome.UNDETERMINED
    assert "builds its dependency at run time" in requirement.detail


def test_audit_settings_validator_refusing_by_environment_guards_production(
    tmp_path: Path,
) -> None:
    settings = (
        "from pydantic import model_validator\nfrom pydantic_settings import BaseSettings\n\n"
        "class Settings(BaseSettings):\n    ENV: str = 'development'\n    SECRET: str = 'x'\n\n"
        "    def _check(self, value):\n        if value == 'changethis':\n"
        "            if self.ENV == 'development':\n                return\n"
        "            raise ValueError('change it')\n\n"
        "    @model_validator(mode='after')\n    def _refuse(self):\n"
        "        self._check(self.SECRET)\n        return self\n"
    )
    guarded = audit(
        write(tmp_path / "guarded", {"requirements.txt": "fastapi\n", "config.py": settings})
    )
    assert outcome(guarded, "CFG-1", "production refuses development defaults") is Outcome.MET
    words = "from pydantic_settings import BaseSettings\n\nclass Settings(BaseSettings):\n"
    words += "    production_url: str = 'https://prod.example.com'\n"
    unguarded = audit(
        write(tmp_path / "words", {"requirements.txt": "fastapi\n", "config.py": words})
    )
    assert outcome(unguarded, "CFG-1", "production refuses development defaults") is Outcome.MISSING


def test_audit_uuid_keys_need_every_table_and_declarative_mapped_classes_count(
    tmp_path: Path,
) -> None:
    report = audit(
        write(
            tmp_path,
            {
                "requirements.txt": "fastapi\nsqlalchemy\npsycopg\n",
                "models.py": "import uuid\n"
                "from sqlalchemy import Column, ForeignKey, Integer, String, Uuid\n"
                "from sqlalchemy.orm import DeclarativeBase, declared_attr\n\n"
                "class Base(DeclarativeBase):\n    @declared_attr.directive\n"
                "    def __tablename__(cls):\n        return cls.__name__.lower()\n\n"
                "class Project(Base):\n    id = Column(Integer, primary_key=True)\n"
                "    name = Column(String, nullable=False, unique=True)\n\n"
                "class Signal(Base):\n    id = Column(Uuid, primary_key=True, default=uuid.uuid4)\n"
                "    project_id = Column(Integer, ForeignKey('project.id'))\n",
                "migrations/versions/a1.py": "import sqlalchemy as sa\nrevision = 'a1'\n"
                "def upgrade():\n    pass\n"
                "class Legacy(sa.orm.DeclarativeBase):\n    __tablename__ = 'legacy'\n",
            },
        )
    )
    keys = next(r for r in report.result("DB-4").requirements if r.name == "UUID primary keys")
    assert keys.outcome is Outcome.MISSING
    assert "1 of 2 primary keys are not UUIDs" in keys.detail
    assert outcome(report, "DB-3", "foreign keys") is Outcome.MET


def test_audit_a_token_bucket_in_the_database_is_a_shared_rate_limiter(tmp_path: Path) -> None:
    # healthchecks limits sign-ins, invitations and notifications with a bucket of its own kept
    # in a table, and answers with a "try later" page rather than 429.
    report = audit(
        write(
            tmp_path,
            {
                "requirements.txt": "django\n",
                "app/settings.py": "ROOT_URLCONF = 'app.urls'\nINSTALLED_APPS = ['app']\n",
                "app/models.py": """
                    from django.db import models
                    from django.utils.timezone import now

                    class SendQuota(models.Model):
                        key = models.CharField(max_length=80, unique=True)
                        tokens = models.FloatField(default=1.0)
                        refilled = models.DateTimeField(default=now)

                        @classmethod
                        def take(cls, key, per_hour):
                            row, _ = cls.objects.get_or_create(key=key)
                            elapsed = (now() - row.refilled).total_seconds()
                            row.tokens = min(1.0, row.tokens + elapsed / 3600)
                            row.tokens -= 1.0 / per_hour
                            if row.tokens < 0:
                                return False
                            row.refilled = now()
                            row.save()
                            return True

                        @classmethod
                        def take_for_user(cls, user):
                            return cls.take(f"user-{user.pk}", 20)

                        @classmethod
                        def take_for_ip(cls, request):
                            return cls.take("ip-" + request.META["REMOTE_ADDR"], 100)
                """,
                "app/views.py": """
                    from django.shortcuts import render
                    from app.models import SendQuota

                    def invite(request):
                        if not SendQuota.take_for_user(request.user):
                            return render(request, "try_later.html")
                        return render(request, "invited.html")
                """,
            },
        )
    )
    assert outcome(report, "SEC-4", "rate limiter") is Outcome.MET
    assert outcome(report, "SEC-4", "shared store") is Outcome.MET
    assert outcome(report, "SEC-4", "per IP and per caller") is Outcome.MET
    assert outcome(report, "SEC-4", "429 with Retry-After") is Outcome.MISSING


def test_audit_a_balance_spent_below_zero_is_no_rate_limiter(tmp_path: Path) -> None:
    # Taking from an attribute and checking it against zero is a bucket only for tokens.
    report = audit(
        write(
            tmp_path,
            {
                "requirements.txt": "fastapi\n",
                "wallet.py": """
                    class Wallet:
                        def __init__(self):
                            self.balance = 10

                        def pay(self, amount):
                            self.balance -= amount
                            if self.balance < 0:
                                raise ValueError("overdrawn")
                """,
            },
        )
    )
    assert outcome(report, "SEC-4", "rate limiter") is Outcome.MISSING


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ('Field(default_factory=lambda: ["*"])', Outcome.MISSING),
        ('Field(default=["*"])', Outcome.MISSING),
        ('["*"]', Outcome.MISSING),
        ('Field(default=["https://app.example.org"])', Outcome.MET),
    ],
)
def test_audit_cors_origins_from_a_config_field_are_judged_by_its_default(
    tmp_path: Path, declared: str, expected: Outcome
) -> None:
    # chainlit passes `allow_origins=config.project.allow_origins`: `config` is what a loader
    # function returns, `project` a field typed with a settings class whose default is ["*"].
    report = audit(
        write(
            tmp_path,
            {
                "requirements.txt": "fastapi\npydantic-settings\n",
                "chat/settings.py": f"""
                    from typing import Optional
                    from pydantic import BaseModel, Field
                    from pydantic_settings import BaseSettings

                    class WebOptions(BaseModel):
                        cors_origins: list[str] = {declared}

                    class AppConfig(BaseSettings):
                        web: Optional[WebOptions] = None

                    def read_config():
                        return AppConfig(web=WebOptions())

                    config = read_config()
                """,
                "chat/app.py": """
                    from fastapi import FastAPI
                    from starlette.middleware.cors import CORSMiddleware
                    from chat.settings import config

                    app = FastAPI()
                    app.add_middleware(
                        CORSMiddleware, allow_origins=config.web.cors_origins, allow_methods=["*"]
                    )
                """,
            },
        )
    )
    assert outcome(report, "SEC-5", "CORS with explicit origins") is expected


# paperless-ngx's settings tests (shape only): Redis URLs are a parser's cases and expectations,
# and an environment patched to see a setting read. No test reaches a Redis server.
URL_PARSING_TESTS = """
import os
from unittest import TestCase, mock

import pytest

from app.settings import broker_urls, cache_location


class TestBrokerUrls:
    @pytest.mark.parametrize(
        ("given", "expected"),
        [
            pytest.param(None, ("redis://localhost:6379", "redis://localhost:6379"), id="default"),
            ("redis://cache-host:6379", ("redis://cache-host:6379", "redis://cache-host:6379")),
        ],
    )
    def test_broker_urls(self, given, expected):
        assert broker_urls(given) == expected

    def test_default_location(self):
        text = "location=redis://localhost:6379/2"
        assert cache_location(text) == "redis://localhost:6379/2"


class TestCacheSetting(TestCase):
    @mock.patch.dict(os.environ, {"APP_CACHE_URL": "redis://localhost:6380/7"})
    def test_location_from_environment(self):
        self.assertEqual(cache_location(None), "redis://localhost:6380/7")
"""


def test_audit_redis_urls_a_parser_is_tested_with_are_no_real_server(tmp_path: Path) -> None:
    files = {
        "requirements.txt": "django\nredis\n",
        "app/settings.py": "def broker_urls(url):\n    return url, url\n\n"
        "def cache_location(text):\n    return text\n",
        "tests/test_settings.py": URL_PARSING_TESTS,
    }
    report = audit(write(tmp_path / "parsing", files))
    assert outcome(report, "TEST-1", "against real databases") is Outcome.MISSING
    # A fixture that opens a client on a URL is a server the tests reach.
    conftest = "import pytest\nimport redis\n\n@pytest.fixture\ndef cache():\n"
    conftest += '    return redis.Redis.from_url("redis://localhost:6379/15")\n'
    report = audit(write(tmp_path / "real", {**files, "tests/conftest.py": conftest}))
    assert outcome(report, "TEST-1", "against real databases") is Outcome.MET


# redash's handlers (shape only): Flask-RESTful resources whose methods commit themselves.
RESOURCE_HANDLERS = """
from flask import request
from flask_restful import Resource

from app import models
from app.services import alerts


class AlertResource(Resource):
    def get(self, alert_id):
        return alerts.read(alert_id, request.query_params.get("fields"))

    def post(self, alert_id):
        alert = alerts.read(alert_id)
        alert.name = request.json["name"]
        models.db.session.commit()
        return alert
"""


def test_audit_a_resource_method_that_commits_is_a_handler_querying_the_database(
    tmp_path: Path,
) -> None:
    files = {
        "requirements.txt": "flask-restful\nflask-sqlalchemy\n",
        "app/__init__.py": "",
        "app/models.py": "from flask_sqlalchemy import SQLAlchemy\n\ndb = SQLAlchemy()\n",
        "app/services/__init__.py": "",
        "app/services/alerts.py": "def read(alert_id, fields=None):\n    return None\n",
        "app/handlers.py": RESOURCE_HANDLERS,
        "app/api.py": "from flask_restful import Api\nfrom app.handlers import AlertResource\n"
        "api = Api(prefix='/api')\napi.add_resource(AlertResource, '/alerts/<alert_id>')\n",
    }
    report = audit(write(tmp_path / "commits", files))
    handlers = report.result("ARCH-1").requirements[0]
    assert handlers.outcome is Outcome.MISSING
    assert "(models.db.session.commit)" in handlers.detail
    # Reading query parameters is no query; a resource that leaves the commit to its service is
    # a handler that calls services.
    delegated = RESOURCE_HANDLERS.replace("        models.db.session.commit()\n", "")
    report = audit(write(tmp_path / "delegates", {**files, "app/handlers.py": delegated}))
    assert outcome(report, "ARCH-1", "handlers do not query the database") is Outcome.MET


# saleor's telemetry (shape only): a trace_id serialized with a task's span links, and JSON logs
# whose formatter adds a host name, never the trace.
SPAN_LINKS = """
from dataclasses import dataclass


@dataclass
class TaskContext:
    links: list

    def to_dict(self):
        links = [{"trace_id": link.trace_id, "span_id": link.span_id} for link in self.links]
        return {"links": links}
"""

JSON_FORMATTER = """
import platform

from pythonjsonlogger.jsonlogger import JsonFormatter


class HostFormatter(JsonFormatter):
    def add_fields(self, log_record, record, message_dict):
        super().add_fields(log_record, record, message_dict)
        log_record["hostname"] = platform.node()
"""


def test_audit_a_trace_id_outside_logging_is_no_trace_id_on_log_lines(tmp_path: Path) -> None:
    files = {
        "requirements.txt": "django\npython-json-logger\nopentelemetry-api\n",
        "shop/settings.py": "INSTALLED_APPS = []\n",
        "shop/telemetry.py": SPAN_LINKS,
        "shop/logging.py": JSON_FORMATTER,
    }
    report = audit(write(tmp_path / "links", files))
    assert outcome(report, "OBS-3", "trace IDs on log lines") is Outcome.MISSING
    # The formatter adding the current span's trace ID puts it on every line.
    traced = JSON_FORMATTER.replace(
        '"hostname"] = platform.node()', '"trace_id"] = current_trace_id()'
    )
    report = audit(write(tmp_path / "formatter", {**files, "shop/logging.py": traced}))
    assert outcome(report, "OBS-3", "trace IDs on log lines") is Outcome.MET


# lnbits's app factory and server (shape only): slowapi keyed by the client address alone, an
# app description that names accounts, and a proxy list whose settings default is "*".
LIMITED_APP = """
from fastapi import FastAPI
from slowapi import Limiter
from slowapi.util import get_remote_address


def create_app():
    app = FastAPI(
        description="Wallets and accounts for everyone.",
        license_info={"url": "https://raw.githubusercontent.com/acme/wallet/main/LICENSE"},
    )
    app.state.limiter = Limiter(key_func=get_remote_address, default_limits=["200/minute"])
    return app
"""

PROXY_SETTINGS = """
from pydantic import Field
from pydantic_settings import BaseSettings


class Settings(BaseSettings):
    forwarded_allow_ips: str = Field(default="*")


settings = Settings()
"""

SERVER = """
import uvicorn

from wallet.settings import settings


def main(forwarded_allow_ips: str = settings.forwarded_allow_ips):
    uvicorn.run("wallet.app:create_app", factory=True, forwarded_allow_ips=forwarded_allow_ips)
"""


def test_audit_a_limiter_keyed_by_address_alone_behind_every_proxy(tmp_path: Path) -> None:
    files = {
        "requirements.txt": "fastapi\nslowapi\npydantic-settings\nuvicorn\n",
        "wallet/__init__.py": "",
        "wallet/app.py": LIMITED_APP,
        "wallet/settings.py": PROXY_SETTINGS,
        "wallet/server.py": SERVER,
    }
    report = audit(write(tmp_path / "star", files))
    assert outcome(report, "SEC-4", "rate limiter") is Outcome.MET
    # Prose and a URL name no caller; "*" lets any client choose its own address.
    assert outcome(report, "SEC-4", "per IP and per caller") is Outcome.MISSING
    assert outcome(report, "SEC-4", "client IP from trusted proxies") is Outcome.MISSING
    keyed = LIMITED_APP.replace(
        "def create_app():",
        "def caller_key(request):\n    return request.state.user_id\n\n\ndef create_app():",
    ).replace(
        'default_limits=["200/minute"]',
        'default_limits=["200/minute"])\n    Limiter(key_func=caller_key',
    )
    listed = PROXY_SETTINGS.replace('"*"', '"10.0.0.0/8"')
    report = audit(
        write(tmp_path / "listed", {**files, "wallet/app.py": keyed, "wallet/settings.py": listed})
    )
    assert outcome(report, "SEC-4", "per IP and per caller") is Outcome.MET
    assert outcome(report, "SEC-4", "client IP from trusted proxies") is Outcome.MET


def test_audit_body_size_histogram_buckets_are_no_body_size_limit(tmp_path: Path) -> None:
    # saleor's webhook metrics (shape only): a histogram of body sizes and its buckets.
    files = {
        "requirements.txt": "fastapi\n",
        "shop/app.py": "from fastapi import FastAPI\n\napp = FastAPI()\n",
        "shop/metrics.py": "from prometheus_client import Histogram\n\n"
        "BODY_SIZE_BUCKETS = [0, 100, 1000, 10000]\n"
        "METRIC_REQUEST_BODY_SIZE = Histogram('body_bytes', 'sizes', buckets=BODY_SIZE_BUCKETS)\n",
    }
    report = audit(write(tmp_path / "buckets", files))
    assert outcome(report, "SEC-1", "request body size limit") is Outcome.MISSING
    limited = {**files, "shop/limits.py": "MAX_BODY_SIZE = 1_000_000\n"}
    report = audit(write(tmp_path / "limit", limited))
    assert outcome(report, "SEC-1", "request body size limit") is Outcome.MET


# saleor's telemetry set-up (shape only): the distro with its otlp extra, the SDK configured by
# its own configurator at start-up, and the API view opening a server span per request.
TELEMETRY = """
from opentelemetry.sdk._configuration import _OTelSDKConfigurator


def start_telemetry():
    _OTelSDKConfigurator().configure(resource_attributes={"service.instance.id": "1"})
"""

GRAPHQL_VIEW = """
from opentelemetry import trace
from opentelemetry.propagate import extract
from opentelemetry.trace import SpanKind

tracer = trace.get_tracer(__name__)


def api(request):
    context = extract(request.headers)
    with tracer.start_as_current_span(request.path, kind=SpanKind.SERVER, context=context):
        return None
"""


def test_audit_the_sdk_configurator_and_distro_otlp_extra_export_spans(tmp_path: Path) -> None:
    pyproject = (
        '[project]\nname = "shop"\nversion = "1"\ndependencies = ["django", '
        '"opentelemetry-sdk", "opentelemetry-distro[otlp]"]\n'
    )
    files = {
        "pyproject.toml": pyproject,
        "shop/settings.py": "INSTALLED_APPS = []\nROOT_URLCONF = 'shop.urls'\n",
        "shop/telemetry.py": TELEMETRY,
        "shop/views.py": GRAPHQL_VIEW,
        "shop/urls.py": "from django.urls import path\nfrom shop import views\n"
        "urlpatterns = [path('graphql/', views.api)]\n",
    }
    report = audit(write(tmp_path / "configured", files))
    for name in (
        "OpenTelemetry SDK with OTLP export",
        "incoming requests traced",
        "configured by OTEL_* variables",
    ):
        assert outcome(report, "OBS-2", name) is Outcome.MET, name
    # The distro without the extra brings no exporter.
    bare = {**files, "pyproject.toml": pyproject.replace("[otlp]", "")}
    report = audit(write(tmp_path / "bare", bare))
    assert outcome(report, "OBS-2", "OpenTelemetry SDK with OTLP export") is Outcome.MISSING


def test_audit_an_activitypub_outbox_view_is_no_transactional_outbox(tmp_path: Path) -> None:
    # bookwyrm's federation (shape only): a user's outbox is a view other servers read, and
    # jobs go to Celery after the write commits.
    files = {
        "requirements.txt": "django\ncelery\n",
        "social/settings.py": "INSTALLED_APPS = []\nROOT_URLCONF = 'social.urls'\n",
        "social/tasks.py": "from celery import Celery\n\napp = Celery('social')\n\n"
        "@app.task\ndef deliver(activity_id):\n    return activity_id\n",
        "social/models.py": "from django.db import transaction\nfrom social.tasks import deliver\n"
        "\n\ndef publish(status):\n"
        "    transaction.on_commit(lambda: deliver.delay(status.id))\n",
        "social/views/__init__.py": "",
        "social/views/outbox.py": "from django.http import JsonResponse\n"
        "from django.views import View\n\n\nclass Outbox(View):\n"
        "    def get(self, request, username):\n"
        "        return JsonResponse({'type': 'OrderedCollection'})\n",
        "social/urls.py": "from django.urls import path\nfrom social.views.outbox import Outbox\n"
        "urlpatterns = [path('user/<username>/outbox', Outbox.as_view())]\n",
    }
    report = audit(write(tmp_path, files))
    assert outcome(report, "ARCH-3", "durable queue") is Outcome.MET
    assert outcome(report, "ARCH-3", "enqueued with the business write") is Outcome.MISSING


def test_audit_tool_and_example_folders_are_not_the_service(tmp_path: Path) -> None:
    # saleor's linter rules (shape only): `.semgrep/` holds sample code each rule is tested on,
    # here a task that retries with backoff; the service's own task retries nothing. An
    # `examples/` folder's snippet is no more the service's.
    sample = (
        "from celery import shared_task\n\n\n"
        "@shared_task(autoretry_for=(Exception,), retry_backoff=True)\n"
        "def ruleexample(order_id):\n    return order_id\n"
    )
    files = {
        "requirements.txt": "django\ncelery\n",
        "shop/settings.py": "INSTALLED_APPS = []\nROOT_URLCONF = 'shop.urls'\n",
        "shop/tasks.py": "from celery import Celery\n\napp = Celery('shop')\n\n\n"
        "@app.task\ndef send_receipt(order_id):\n    return order_id\n",
        "shop/urls.py": "urlpatterns = []\n",
        ".semgrep/correctness/tasks/retry_backoff.py": sample,
        "examples/tasks.py": sample,
        ".github/workflows/ci.yml": "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: pytest\n",
    }
    report = audit(write(tmp_path, files))
    assert outcome(report, "ARCH-3", "retries") is Outcome.MISSING
    # The workflows beside them are still read as the CI pipeline.
    assert outcome(report, "OPS-3", "CI pipeline") is Outcome.MET


DJANGO_SETTINGS = (
    "INSTALLED_APPS = ['rest_framework']\nROOT_URLCONF = 'ops.urls'\n"
    "STATIC_URL = '/static/'\n"
    "PASSWORD_HASHERS = ['django.contrib.auth.hashers.BCryptSHA256PasswordHasher']\n"
    "CACHES = {'default': {'BACKEND': 'django_redis.cache.RedisCache'}}\n"
)


def _ops_service(**modules: str) -> dict[str, str]:
    # jumpserver's shapes (shape only): a Django REST service whose `assets` app is the hosts
    # it manages, not static files.
    return {
        "requirements.txt": "django\ndjangorestframework\ndjango-redis\n",
        "ops/settings.py": DJANGO_SETTINGS,
        "ops/urls.py": "from django.urls import path\nfrom ops import views\n"
        "urlpatterns = [path('api/tasks/', views.TaskList.as_view())]\n",
        "ops/static/app.css": "body {}\n",
        **modules,
    }


def test_audit_rest_frameworks_json_renderer_is_no_json_log(tmp_path: Path) -> None:
    views = (
        "import logging\n\nfrom rest_framework.renderers import JSONRenderer\n"
        "from rest_framework.views import APIView\n\nlogger = logging.getLogger(__name__)\n\n\n"
        "class TaskList(APIView):\n    renderer_classes = [JSONRenderer]\n\n"
        "    def get(self, request):\n        return JSONRenderer().render([])\n"
    )
    report = audit(write(tmp_path / "drf", _ops_service(**{"ops/views.py": views})))
    assert outcome(report, "OBS-3", "JSON logs") is Outcome.MISSING
    logs = (
        "import structlog\n\n"
        "structlog.configure(processors=[structlog.processors.JSONRenderer()])\n"
    )
    files = _ops_service(**{"ops/views.py": views, "ops/logs.py": logs})
    report = audit(write(tmp_path / "structlog", files))
    assert outcome(report, "OBS-3", "JSON logs") is Outcome.MET


def test_audit_names_holding_invalidate_by_accident_invalidate_no_cache(tmp_path: Path) -> None:
    views = (
        "from django.core.cache import cache\nfrom rest_framework.views import APIView\n\n\n"
        "class LDAPInvalidAttributeError(Exception):\n    pass\n\n\n"
        "class SessionJoinValidateView(APIView):\n    def get(self, request):\n"
        "        return cache.get('tasks')\n\n\n"
        "class TaskList(SessionJoinValidateView):\n    pass\n"
    )
    report = audit(write(tmp_path / "accidental", _ops_service(**{"ops/views.py": views})))
    assert outcome(report, "PERF-1", "invalidation on writes") is Outcome.MISSING
    views += "\n\ndef invalidate_tasks():\n    cache.delete('tasks')\n"
    report = audit(write(tmp_path / "invalidating", _ops_service(**{"ops/views.py": views})))
    assert outcome(report, "PERF-1", "invalidation on writes") is Outcome.MET


def test_audit_hashes_beside_static_url_are_no_fingerprinted_assets(tmp_path: Path) -> None:
    files = _ops_service(
        **{
            "ops/views.py": "from rest_framework.views import APIView\n\n\n"
            "class TaskList(APIView):\n    def get(self, request):\n        return []\n",
            # The managed hosts' app: a checksum of a playbook, nothing served.
            "ops/assets/__init__.py": "",
            "ops/assets/manager.py": "import hashlib\n\n\ndef checksum(text):\n"
            "    return hashlib.md5(text.encode()).hexdigest()\n",
            # A user's avatar falls back to a static file; its tokens are HMAC-signed.
            "ops/users.py": "import hmac\n\nfrom django.conf import settings\n\n"
            "AVATAR = settings.STATIC_URL + 'avatar.png'\n\n\ndef sign(key, text):\n"
            "    return hmac.new(key, text, 'sha256').hexdigest()\n",
        }
    )
    report = audit(write(tmp_path, files))
    assert outcome(report, "PERF-3", "fingerprinted file names") is Outcome.MISSING


def test_audit_variables_named_like_bounds_bound_no_field(tmp_path: Path) -> None:
    # freqtrade's models (shape only): a label encoder called `le`, a model's `max_len`.
    model = (
        "from sklearn.preprocessing import LabelEncoder\nfrom torch import nn\n\n\n"
        "def decode(labels):\n    le = LabelEncoder()\n    return le.fit_transform(labels)\n\n\n"
        "def encoder(width):\n    return nn.Transformer(width, max_len=64)\n"
    )
    api = (
        "from fastapi import FastAPI\nfrom pydantic import BaseModel\n\napp = FastAPI()\n\n\n"
        "class Order(BaseModel):\n    pair: str\n    amount: float\n\n\n"
        "@app.post('/api/v1/orders')\ndef create(order: Order):\n    return order\n"
    )
    files = {
        "requirements.txt": "fastapi\npydantic\n",
        "bot/__init__.py": "",
        "bot/models.py": model,
        "bot/api.py": api,
    }
    report = audit(write(tmp_path / "unbounded", files))
    assert outcome(report, "SEC-1", "bounded fields") is Outcome.MISSING
    bounded = api.replace("amount: float", "amount: float = Field(le=1000)").replace(
        "import BaseModel", "import BaseModel, Field"
    )
    report = audit(write(tmp_path / "bounded", {**files, "bot/api.py": bounded}))
    assert outcome(report, "SEC-1", "bounded fields") is Outcome.MET


def test_audit_django_routes_added_under_a_module_level_if_are_read(tmp_path: Path) -> None:
    # Flagsmith's urls (shape only): the whole API is added to `urlpatterns` unless the process
    # runs as a task processor; the list itself holds one metadata route.
    files = {
        "requirements.txt": "django\n",
        "flags/settings.py": "INSTALLED_APPS = []\nROOT_URLCONF = 'flags.urls'\n"
        "WORKER_MODE = False\n",
        "flags/models.py": "from django.db import models\n\n\n"
        "class Flag(models.Model):\n    name = models.CharField(max_length=50)\n",
        "flags/views.py": "from django.http import JsonResponse\n\n"
        "from flags.models import Flag\n\n\n"
        "def metadata(request):\n    return JsonResponse({})\n\n\n"
        "def flags(request):\n    return JsonResponse({'names': list(Flag.objects.all())})\n",
        "flags/urls.py": "from django.conf import settings\nfrom django.urls import path\n\n"
        "from flags import views\n\n"
        "urlpatterns = [path('.well-known/metadata', views.metadata)]\n\n"
        "if not settings.WORKER_MODE:\n"
        "    urlpatterns += [path('api/v1/flags/', views.flags)]\n",
    }
    report = audit(write(tmp_path, files))
    assert set(access(report)) == {"ANY /.well-known/metadata", "ANY /api/v1/flags/"}
    assert outcome(report, "ARCH-1", "handlers do not query the database") is Outcome.MISSING


def test_audit_a_class_with_an_open_status_and_a_counter_is_no_breaker(tmp_path: Path) -> None:
    # freqtrade's bot (shape only): a large class that appends to an order's attribute, raises,
    # reads the clock and compares a status with "open"; it breaks no circuit.
    bot = (
        "import time\n\nimport httpx\n\n\nclass TradingBot:\n"
        "    def prices(self):\n        return httpx.get('https://exchange.test/prices')\n\n"
        "    def cancel(self, order):\n"
        "        if order.status != 'open':\n            raise ValueError(order)\n"
        "        order.cancel_reason += ', fully cancelled'\n"
        "        order.closed_at = time.time()\n"
    )
    breaker = bot.replace("order.cancel_reason +=", "self.failures += 1\n        order.reason =")
    api = (
        "from fastapi import FastAPI\n\napp = FastAPI()\n\n\n"
        "@app.get('/api/v1/status')\ndef status():\n    return {}\n"
    )
    files = {"requirements.txt": "fastapi\nhttpx\n", "bot/api.py": api, "bot/bot.py": bot}
    report = audit(write(tmp_path / "bot", files))
    assert outcome(report, "RES-1", "circuit breaker") is Outcome.MISSING
    report = audit(write(tmp_path / "breaker", {**files, "bot/bot.py": breaker}))
    assert outcome(report, "RES-1", "circuit breaker") is Outcome.MET


def test_audit_a_function_named_for_asset_urls_is_no_cdn_setting(tmp_path: Path) -> None:
    # jumpserver's notifications (shape only): the URLs of the hosts it manages.
    notice = (
        "class SessionNotice:\n    def get_asset_urls(self, hosts):\n"
        "        return [host.url for host in hosts]\n\n"
        "    def html(self, hosts):\n        return ''.join(self.get_asset_urls(hosts))\n"
    )
    files = _ops_service(
        **{
            "ops/views.py": "from rest_framework.views import APIView\n\n\n"
            "class TaskList(APIView):\n    def get(self, request):\n        return []\n",
            "ops/notices.py": notice,
        }
    )
    report = audit(write(tmp_path / "function", files))
    assert outcome(report, "PERF-3", "CDN base URL setting") is Outcome.MISSING
    files["ops/settings.py"] += "ASSET_URL = '/'\n"
    report = audit(write(tmp_path / "setting", files))
    assert outcome(report, "PERF-3", "CDN base URL setting") is Outcome.MET


def test_audit_a_worker_module_without_a_queue_is_no_worker_process(tmp_path: Path) -> None:
    # freqtrade's shape: `worker.py` runs the bot's loop, and the API's background work is
    # FastAPI's BackgroundTasks inside that same process.
    api = (
        "from fastapi import BackgroundTasks, FastAPI\n\napp = FastAPI()\n\n\n"
        "def backtest():\n    return None\n\n\n"
        "@app.post('/api/v1/backtest')\ndef start(tasks: BackgroundTasks):\n"
        "    tasks.add_task(backtest)\n    return {}\n"
    )
    worker = (
        "import time\n\n\nclass Worker:\n    def run(self):\n"
        "        while True:\n            time.sleep(5)\n"
    )
    files = {"requirements.txt": "fastapi\n", "bot/api.py": api, "bot/worker.py": worker}
    report = audit(write(tmp_path, files))
    assert outcome(report, "ARCH-3", "durable queue") is Outcome.MISSING
    assert outcome(report, "ARCH-3", "worker process") is Outcome.MISSING
