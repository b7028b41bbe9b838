"""In the shape of polarsource/polar's `server/`: Python 3.14 code, audited as `server/`.

What makes it hard: the rate limiter (a middleware counting in Redis) and other modules use the
Python 3.14 grammar (`except A, B:` without parentheses, a template string); authentication is
an `Authenticator` instance used as a dependency inside `Annotated` aliases, whose `__call__`
refuses anonymous callers, fed by a subject resolved from bearer schemes; the engine is made by a
wrapper that passes the pool settings on as `**engine_options`; the worker is Dramatiq. One file
is generated data over the size limit and one is a Python 2 leftover: neither can be read, and
the report must say so.
"""

from __future__ import annotations

from collections.abc import Callable

from . import Sample


def _countries() -> str:
    rows = "".join(f'    "C{index:06d}": "Country {index}",\n' for index in range(70_000))
    return "COUNTRIES = {\n" + rows + "}\n"


FILES: dict[str, str | Callable[[], str]] = {
    "server/pyproject.toml": """
        [project]
        name = "polar"
        version = "0.1.0"
        requires-python = ">=3.14"
        dependencies = [
            "fastapi>=0.115",
            "sqlalchemy[asyncio]>=2.0",
            "asyncpg>=0.30",
            "redis>=5.2",
            "dramatiq[redis]>=1.17",
            "pydantic-settings>=2.6",
            "structlog>=24.4",
            "uvicorn>=0.32",
        ]

        [dependency-groups]
        dev = ["pytest>=8.3", "pytest-asyncio>=0.24", "mypy>=1.13", "ruff>=0.8"]
    """,
    "server/polar/__init__.py": "",
    "server/polar/config.py": """
        from pydantic import SecretStr
        from pydantic_settings import BaseSettings, SettingsConfigDict


        class Settings(BaseSettings):
            model_config = SettingsConfigDict(env_prefix="polar_", secrets_dir="/run/secrets")

            ENV: str = "development"
            POSTGRES_DSN: str = "postgresql+asyncpg://polar@localhost/polar"
            DATABASE_POOL_SIZE: int = 5
            DATABASE_POOL_OVERFLOW: int = 10
            DATABASE_POOL_RECYCLE_SECONDS: int = 600
            DATABASE_POOL_TIMEOUT: int = 10
            REDIS_URL: str = "redis://localhost:6379"
            SECRET: SecretStr = SecretStr("super secret jwt secret")


        settings = Settings()
    """,
    "server/polar/kit/__init__.py": "",
    "server/polar/kit/db.py": """
        from typing import Any

        from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


        def make_engine(dsn: str, **engine_options: Any) -> AsyncEngine:
            return create_async_engine(
                dsn,
                pool_pre_ping=True,
                connect_args={"server_settings": {"statement_timeout": "30000"}},
                **engine_options,
            )
    """,
    "server/polar/postgres.py": """
        from polar.config import settings
        from polar.kit.db import make_engine

        engine = make_engine(
            settings.POSTGRES_DSN,
            pool_size=settings.DATABASE_POOL_SIZE,
            max_overflow=settings.DATABASE_POOL_OVERFLOW,
            pool_recycle=settings.DATABASE_POOL_RECYCLE_SECONDS,
            pool_timeout=settings.DATABASE_POOL_TIMEOUT,
        )
    """,
    "server/polar/redis.py": """
        import redis.asyncio as redis

        from polar.config import settings

        client = redis.Redis.from_url(settings.REDIS_URL)
    """,
    "server/polar/rate_limit.py": """
        from redis.exceptions import ConnectionError, TimeoutError
        from starlette.responses import JSONResponse

        from polar.redis import client

        LIMIT = 100
        WINDOW_SECONDS = 60


        class RateLimitMiddleware:
            \"\"\"Counts requests per client IP, and per authenticated subject, in Redis.\"\"\"

            def __init__(self, app):
                self.app = app

            async def __call__(self, scope, receive, send):
                if scope["type"] != "http":
                    return await self.app(scope, receive, send)
                client_ip = scope["client"][0]
                subject = scope.get("state", {}).get("auth_subject")
                keys = [f"rate:ip:{client_ip}"]
                if subject is not None:
                    keys.append(f"rate:subject:{subject}")
                for key in keys:
                    try:
                        count = await client.incr(key)
                        if count == 1:
                            await client.expire(key, WINDOW_SECONDS)
                    except ConnectionError, TimeoutError:
                        continue
                    if count > LIMIT:
                        response = JSONResponse(
                            {"detail": "Too many requests"},
                            status_code=429,
                            headers={"Retry-After": str(WINDOW_SECONDS)},
                        )
                        return await response(scope, receive, send)
                return await self.app(scope, receive, send)
    """,
    "server/polar/auth/__init__.py": "",
    "server/polar/auth/dependencies.py": """
        from typing import Annotated

        from fastapi import Depends, Request
        from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

        from polar.exceptions import Unauthorized

        bearer = HTTPBearer(auto_error=False)


        async def get_auth_subject(
            request: Request,
            credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
        ) -> str | None:
            return request.state.auth_subject


        class Authenticator:
            def __init__(self, *, required_scopes: set[str]) -> None:
                self.required_scopes = required_scopes

            async def __call__(
                self, auth_subject: Annotated[str | None, Depends(get_auth_subject)]
            ) -> str:
                if auth_subject is None:
                    raise Unauthorized()
                return auth_subject
    """,
    "server/polar/auth/middlewares.py": """
        from polar.kit.tokens import subject_from_token


        class AuthSubjectMiddleware:
            \"\"\"Resolves the caller from the Authorization header; never refuses on its own.\"\"\"

            def __init__(self, app):
                self.app = app

            async def __call__(self, scope, receive, send):
                headers = dict(scope.get("headers", []))
                token = headers.get(b"authorization", b"").decode().removeprefix("Bearer ")
                scope.setdefault("state", {})["auth_subject"] = subject_from_token(token)
                await self.app(scope, receive, send)
    """,
    "server/polar/kit/tokens.py": """
        import jwt

        from polar.config import settings


        def subject_from_token(token):
            try:
                claims = jwt.decode(
                    token,
                    settings.SECRET.get_secret_value(),
                    algorithms=["HS256"],
                    audience="polar",
                    issuer="https://polar.sh",
                )
            except jwt.InvalidTokenError, ValueError:
                return None
            return claims["sub"]
    """,
    "server/polar/exceptions.py": """
        class PolarError(Exception):
            status_code = 500


        class Unauthorized(PolarError):
            status_code = 401
    """,
    "server/polar/organization/__init__.py": "",
    "server/polar/organization/auth.py": """
        from typing import Annotated

        from fastapi import Depends

        from polar.auth.dependencies import Authenticator

        OrganizationsRead = Annotated[
            str, Depends(Authenticator(required_scopes={"organizations:read"}))
        ]
        OrganizationsWrite = Annotated[
            str, Depends(Authenticator(required_scopes={"organizations:write"}))
        ]
    """,
    "server/polar/organization/endpoints.py": """
        import logging

        from fastapi import APIRouter
        from pydantic import BaseModel

        from polar.organization.auth import OrganizationsRead, OrganizationsWrite

        router = APIRouter(prefix="/organizations", tags=["organizations"])
        log = logging.getLogger(__name__)


        class Organization(BaseModel):
            id: str
            name: str


        class OrganizationUpdate(BaseModel):
            name: str


        @router.get("/", summary="List organizations")
        async def list_organizations(auth_subject: OrganizationsRead) -> list[Organization]:
            log.info(t"listing organizations for {auth_subject}")
            return []


        @router.patch("/{id}", summary="Update an organization")
        async def update_organization(
            id: str, update: OrganizationUpdate, auth_subject: OrganizationsWrite
        ) -> Organization:
            return Organization(id=id, name=update.name)
    """,
    "server/polar/checkout/__init__.py": "",
    "server/polar/checkout/endpoints.py": """
        from fastapi import APIRouter
        from pydantic import BaseModel

        router = APIRouter(prefix="/checkouts", tags=["checkouts"])


        class CheckoutCreate(BaseModel):
            product_id: str


        class Checkout(BaseModel):
            id: str


        @router.post("/client/", summary="Create a checkout from the client")
        async def client_create(checkout: CheckoutCreate) -> Checkout:
            return Checkout(id="new")
    """,
    "server/polar/api.py": """
        from fastapi import APIRouter

        from polar.checkout.endpoints import router as checkout_router
        from polar.organization.endpoints import router as organization_router

        router = APIRouter(prefix="/v1")
        router.include_router(organization_router)
        router.include_router(checkout_router)
    """,
    "server/polar/health.py": """
        from fastapi import APIRouter

        router = APIRouter()


        @router.get("/healthz")
        async def healthz() -> dict[str, str]:
            return {"status": "ok"}
    """,
    "server/polar/app.py": """
        from fastapi import FastAPI

        from polar.api import router
        from polar.auth.middlewares import AuthSubjectMiddleware
        from polar.health import router as health_router
        from polar.rate_limit import RateLimitMiddleware


        def create_app() -> FastAPI:
            app = FastAPI()
            app.add_middleware(RateLimitMiddleware)
            app.add_middleware(AuthSubjectMiddleware)
            app.include_router(health_router)
            app.include_router(router)
            return app


        app = create_app()
    """,
    "server/polar/worker.py": """
        import dramatiq
        from dramatiq.brokers.redis import RedisBroker

        from polar.config import settings

        broker = RedisBroker(url=settings.REDIS_URL)
        dramatiq.set_broker(broker)


        @dramatiq.actor(max_retries=5)
        def send_receipt(order_id: str) -> None:
            return None
    """,
    "server/polar/kit/countries.py": _countries,
    "server/scripts/legacy_export.py": """
        import csv

        print "exporting"
    """,
    "server/tests/__init__.py": "",
    "server/tests/test_organizations.py": """
        from httpx import ASGITransport, AsyncClient

        from polar.app import app


        async def test_anonymous_is_refused() -> None:
            async with AsyncClient(transport=ASGITransport(app), base_url="http://test") as client:
                response = await client.get("/v1/organizations/")
            assert response.status_code == 401
    """,
    "server/Dockerfile": """
        FROM python:3.14-slim
        COPY . /app
        CMD ["uvicorn", "polar.app:app", "--host", "0.0.0.0", "--workers", "1"]
    """,
}

SAMPLE = Sample(
    name="polar",
    shape="polarsource/polar server/ (Python 3.14, Authenticator dependencies, Dramatiq)",
    files=FILES,
    framework="fastapi",
    audit_path="server",
    routes={
        "GET /v1/organizations/": "authenticated",
        "PATCH /v1/organizations/{id}": "authenticated",
        "POST /v1/checkouts/client/": "open",
        "GET /healthz": "infrastructure",
    },
    standards={
        "SEC-4": "partial",
        "ARCH-3": "partial",
    },
    requirements={
        ("SEC-3", "every route declares access"): "missing",
        ("SEC-3", "issuer and audience checked"): "met",
        ("SEC-4", "rate limiter"): "met",
        ("SEC-4", "shared store"): "met",
        ("SEC-4", "per IP and per caller"): "met",
        ("SEC-4", "429 with Retry-After"): "met",
        ("SEC-4", "client IP from trusted proxies"): "missing",
        ("DB-1", "pool size and overflow"): "met",
        ("DB-1", "pool timeout"): "met",
        ("DB-1", "recycle and pre-ping"): "met",
        ("DB-1", "statement timeout"): "met",
        ("DB-1", "sized from settings"): "met",
        ("INF-1", "no in-process workers"): "met",
        ("CFG-2", "secrets typed as secrets"): "met",
        ("CFG-2", "mounted secret files or a secrets manager"): "met",
        ("ARCH-3", "durable queue"): "met",
        ("ARCH-3", "enqueued with the business write"): "missing",
        ("TEST-1", "API tests through the real application"): "met",
        ("TEST-1", "against real databases"): "missing",
        ("API-1", "business routes under /v1"): "met",
    },
    not_read={
        "polar/kit/countries.py": "too large",
        "scripts/legacy_export.py": "unparseable",
    },
)
