"""In the shape of Netflix/dispatch: a `src/` package, an API app mounted under /api/v1.

What makes it hard: the API is a second FastAPI app mounted with `app.mount("/api/v1",
app=api)` beside a static frontend; authentication is a dependency given where routers are
included (`include_router(..., dependencies=[Depends(get_current_user)])`), and the current user
comes from a configured provider plugin that reads the Authorization header; the login and
registration routes are open; the engine's pool settings are passed as `**engine_options`;
settings come from Starlette's `Config` with a `Secret` type; slowapi limits requests in memory;
a test is named after a downgrade but never runs one.
"""

from __future__ import annotations

from . import Sample

FILES = {
    "setup.py": """
        from setuptools import find_packages, setup

        setup(
            name="dispatch",
            package_dir={"": "src"},
            packages=find_packages("src"),
            install_requires=open("requirements-base.txt").read().splitlines(),
        )
    """,
    "requirements-base.txt": """
        fastapi==0.115.0
        starlette==0.38.5
        sqlalchemy==2.0.35
        psycopg2-binary==2.9.9
        pyjwt==2.9.0
        slowapi==0.1.9
        alembic==1.13.2
        uvicorn==0.30.6
    """,
    "requirements-dev.txt": """
        pytest==8.3.3
        ruff==0.6.8
    """,
    "Dockerfile": """
        FROM python:3.11-slim AS builder
        COPY requirements-base.txt /
        RUN pip wheel -w /wheels -r /requirements-base.txt
        FROM python:3.11-slim
        COPY --from=builder /wheels /wheels
        RUN pip install /wheels/*
        COPY src /app/src
        USER dispatch
        CMD ["uvicorn", "dispatch.main:app", "--host", "0.0.0.0"]
    """,
    "src/dispatch/__init__.py": "",
    "src/dispatch/config.py": """
        from starlette.config import Config
        from starlette.datastructures import Secret

        config = Config(".env")

        DATABASE_HOSTNAME = config("DATABASE_HOSTNAME", default="localhost")
        DATABASE_CREDENTIALS = config("DATABASE_CREDENTIALS", cast=Secret)
        DATABASE_ENGINE_POOL_SIZE = config("DATABASE_ENGINE_POOL_SIZE", cast=int, default=20)
        DATABASE_ENGINE_MAX_OVERFLOW = config("DATABASE_ENGINE_MAX_OVERFLOW", cast=int, default=0)
        DATABASE_ENGINE_POOL_RECYCLE = config("DATABASE_ENGINE_POOL_RECYCLE", cast=int, default=60)
        DATABASE_ENGINE_POOL_TIMEOUT = config("DATABASE_ENGINE_POOL_TIMEOUT", cast=int, default=30)
        DISPATCH_AUTHENTICATION_PROVIDER_SLUG = config(
            "DISPATCH_AUTHENTICATION_PROVIDER_SLUG", default="dispatch-auth-provider-basic"
        )
        SQLALCHEMY_DATABASE_URI = f"postgresql+psycopg2://{DATABASE_HOSTNAME}/dispatch"
    """,
    "src/dispatch/database/__init__.py": "",
    "src/dispatch/database/core.py": """
        from sqlalchemy import create_engine
        from sqlalchemy.orm import DeclarativeBase, sessionmaker

        from dispatch import config

        engine_options = {
            "pool_size": config.DATABASE_ENGINE_POOL_SIZE,
            "max_overflow": config.DATABASE_ENGINE_MAX_OVERFLOW,
            "pool_recycle": config.DATABASE_ENGINE_POOL_RECYCLE,
            "pool_timeout": config.DATABASE_ENGINE_POOL_TIMEOUT,
            "pool_pre_ping": True,
        }
        engine = create_engine(config.SQLALCHEMY_DATABASE_URI, **engine_options)
        SessionLocal = sessionmaker(bind=engine)


        class Base(DeclarativeBase):
            pass
    """,
    "src/dispatch/plugins/__init__.py": """
        from dispatch.plugins.basic_auth import BasicAuthProvider

        PLUGINS = {"dispatch-auth-provider-basic": BasicAuthProvider()}


        def get(slug):
            return PLUGINS[slug]
    """,
    "src/dispatch/plugins/basic_auth.py": """
        import jwt

        from dispatch import config


        class BasicAuthProvider:
            slug = "dispatch-auth-provider-basic"

            def get_current_user(self, request, **kwargs):
                authorization = request.headers.get("Authorization")
                if not authorization:
                    return None
                scheme, _, token = authorization.partition(" ")
                claims = jwt.decode(token, str(config.DATABASE_CREDENTIALS), algorithms=["HS256"])
                return claims["email"]
    """,
    "src/dispatch/auth/__init__.py": "",
    "src/dispatch/auth/service.py": """
        from fastapi import HTTPException, Request
        from starlette.status import HTTP_401_UNAUTHORIZED

        from dispatch import plugins
        from dispatch.config import DISPATCH_AUTHENTICATION_PROVIDER_SLUG


        def get_current_user(request: Request) -> str:
            provider = plugins.get(DISPATCH_AUTHENTICATION_PROVIDER_SLUG)
            email = provider.get_current_user(request)
            if not email:
                raise HTTPException(status_code=HTTP_401_UNAUTHORIZED, detail="not authenticated")
            return email
    """,
    "src/dispatch/auth/views.py": """
        from fastapi import APIRouter
        from pydantic import BaseModel

        auth_router = APIRouter()


        class Login(BaseModel):
            email: str
            password: str


        class LoginResponse(BaseModel):
            token: str


        @auth_router.post("/login", response_model=LoginResponse)
        def login_user(login: Login) -> LoginResponse:
            \"\"\"Exchange a password for a token.\"\"\"
            return LoginResponse(token="...")


        @auth_router.post("/register", response_model=LoginResponse)
        def register_user(login: Login) -> LoginResponse:
            \"\"\"Open registration.\"\"\"
            return LoginResponse(token="...")
    """,
    "src/dispatch/incident/__init__.py": "",
    "src/dispatch/incident/models.py": """
        from sqlalchemy import Column, ForeignKey, Integer, String

        from dispatch.database.core import Base


        class Project(Base):
            __tablename__ = "project"
            id = Column(Integer, primary_key=True)
            name = Column(String, nullable=False, unique=True)


        class Incident(Base):
            __tablename__ = "incident"
            id = Column(Integer, primary_key=True)
            title = Column(String, nullable=False)
            project_id = Column(Integer, ForeignKey("project.id"))
    """,
    "src/dispatch/incident/views.py": """
        from fastapi import APIRouter, Request
        from pydantic import BaseModel

        from dispatch.rate_limiter import limiter

        router = APIRouter()


        class IncidentRead(BaseModel):
            id: int
            title: str


        @router.get("", response_model=list[IncidentRead])
        @limiter.limit("10/minute")
        def get_incidents(request: Request, organization: str) -> list[IncidentRead]:
            \"\"\"Incidents of an organization.\"\"\"
            return []
    """,
    "src/dispatch/rate_limiter.py": """
        from slowapi import Limiter
        from slowapi.util import get_remote_address

        limiter = Limiter(key_func=get_remote_address)
    """,
    "src/dispatch/api.py": """
        from fastapi import APIRouter, Depends

        from dispatch.auth.service import get_current_user
        from dispatch.auth.views import auth_router
        from dispatch.incident.views import router as incident_router

        api_router = APIRouter()
        authenticated_api_router = APIRouter(prefix="/{organization}")

        api_router.include_router(auth_router, prefix="/{organization}/auth", tags=["auth"])
        authenticated_api_router.include_router(
            incident_router, prefix="/incidents", tags=["incidents"]
        )


        @api_router.get("/healthcheck", include_in_schema=False)
        def healthcheck():
            return {"status": "ok"}


        api_router.include_router(
            authenticated_api_router, dependencies=[Depends(get_current_user)]
        )
    """,
    "src/dispatch/main.py": """
        from fastapi import FastAPI
        from slowapi import _rate_limit_exceeded_handler
        from slowapi.errors import RateLimitExceeded
        from starlette.staticfiles import StaticFiles

        from dispatch.api import api_router
        from dispatch.rate_limiter import limiter

        app = FastAPI(openapi_url="")
        app.state.limiter = limiter
        app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)

        frontend = FastAPI(openapi_url="")
        api = FastAPI(title="Dispatch", docs_url=None, openapi_url="/docs/openapi.json")
        api.include_router(api_router)

        frontend.mount("/", StaticFiles(directory="static/dist"), name="app")
        app.mount("/api/v1", app=api)
        app.mount("/", app=frontend)
    """,
    "src/dispatch/database/revisions/versions/2024-01-01_3a0b3c3e1f0a.py": """
        from alembic import op

        revision = "3a0b3c3e1f0a"
        down_revision = None


        def upgrade():
            op.add_column("incident", op.Column("title", op.String()))


        def downgrade():
            pass
    """,
    "tests/__init__.py": "",
    "tests/conftest.py": """
        import pytest
        from starlette.testclient import TestClient

        from dispatch.main import app


        @pytest.fixture
        def client():
            return TestClient(app)
    """,
    "tests/test_incidents.py": """
        def test_incidents_need_a_user(client):
            assert client.get("/api/v1/default/incidents").status_code == 401
    """,
    "tests/test_revisions.py": """
        def test_downgrade_revisions_are_listed():
            from dispatch.database import core

            assert core.Base.metadata is not None
    """,
    ".github/workflows/python.yml": """
        name: python
        on: [push]
        jobs:
          test:
            runs-on: ubuntu-latest
            services:
              postgres:
                image: postgres:16
            steps:
              - uses: actions/checkout@v4
              - run: pip install -r requirements-base.txt -r requirements-dev.txt
              - run: ruff check src
              - run: pytest tests
    """,
}

SAMPLE = Sample(
    name="dispatch",
    shape="Netflix/dispatch (src/ layout, API app mounted under /api/v1, auth plugins)",
    files=FILES,
    framework="fastapi",
    routes={
        "POST /api/v1/{organization}/auth/login": "open",
        "POST /api/v1/{organization}/auth/register": "open",
        "GET /api/v1/{organization}/incidents": "authenticated",
        "GET /api/v1/healthcheck": "infrastructure",
    },
    standards={
        "DB-2": "partial",
        "SEC-4": "partial",
        "API-1": "partial",
    },
    requirements={
        ("SEC-3", "every route declares access"): "missing",
        ("SEC-3", "JWT with pinned algorithms"): "met",
        ("API-1", "business routes under /v1"): "met",
        ("DB-1", "pool size and overflow"): "met",
        ("DB-1", "pool timeout"): "met",
        ("DB-1", "recycle and pre-ping"): "met",
        ("DB-1", "sized from settings"): "met",
        ("DB-1", "statement timeout"): "missing",
        ("DB-2", "every migration reversible"): "missing",
        ("DB-2", "round trip tested"): "missing",
        ("DB-4", "UUID primary keys"): "missing",
        ("DB-4", "indexes on foreign keys"): "missing",
        ("SEC-4", "rate limiter"): "met",
        ("SEC-4", "shared store"): "missing",
        ("CFG-2", "secrets typed as secrets"): "met",
        ("TEST-1", "against real databases"): "met",
        ("OPS-3", "lint, types and tests"): "missing",
        ("OPS-3", "actions pinned by commit SHA"): "missing",
    },
)
