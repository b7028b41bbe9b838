"""In the shape of a project rendered from s3rius/FastAPI-template (SQLAlchemy, Taskiq off).

What makes it hard: the app is built by a factory that includes the API router under "/api" and
mounts static files; the server is started from `__main__` with its worker count from a setting
that defaults to one; there is no authentication at all; an enum named after rate limits is not
a rate limiter; a parameter named `secret` is not a `SecretStr`; Schemathesis is declared and
imported, but its test is commented out; a test that says "breaking" checks nothing about the
API's compatibility.
"""

from __future__ import annotations

from . import Sample

FILES = {
    "pyproject.toml": """
        [project]
        name = "proj"
        version = "0.1.0"
        requires-python = ">=3.11"
        dependencies = [
            "fastapi>=0.115",
            "uvicorn[standard]>=0.32",
            "pydantic-settings>=2.6",
            "sqlalchemy[asyncio]>=2.0",
            "asyncpg>=0.30",
            "yarl>=1.17",
        ]

        [dependency-groups]
        dev = ["pytest>=8.3", "httpx>=0.27", "schemathesis>=3.38", "mypy>=1.13", "ruff>=0.8"]
    """,
    "proj/__init__.py": "",
    "proj/settings.py": """
        import enum

        from pydantic_settings import BaseSettings, SettingsConfigDict
        from yarl import URL


        class LogLevel(enum.StrEnum):
            INFO = "INFO"
            DEBUG = "DEBUG"


        class Settings(BaseSettings):
            model_config = SettingsConfigDict(env_file=".env", env_prefix="PROJ_")

            host: str = "127.0.0.1"
            port: int = 8000
            workers_count: int = 1
            reload: bool = False
            log_level: LogLevel = LogLevel.INFO
            db_host: str = "localhost"
            db_user: str = "proj"
            db_pass: str = "proj"
            db_base: str = "proj"

            @property
            def db_url(self) -> URL:
                return URL.build(
                    scheme="postgresql+asyncpg",
                    host=self.db_host,
                    user=self.db_user,
                    password=self.db_pass,
                    path=f"/{self.db_base}",
                )


        settings = Settings()
    """,
    "proj/__main__.py": """
        import uvicorn

        from proj.settings import settings


        def main() -> None:
            uvicorn.run(
                "proj.web.application:get_app",
                workers=settings.workers_count,
                host=settings.host,
                port=settings.port,
                reload=settings.reload,
                factory=True,
            )


        if __name__ == "__main__":
            main()
    """,
    "proj/limits.py": """
        import enum


        class RateLimitPolicy(enum.Enum):
            NONE = "none"
            STRICT = "strict"
    """,
    "proj/signing.py": """
        import hashlib
        import hmac


        def sign(payload: bytes, secret: str) -> str:
            return hmac.new(secret.encode(), payload, hashlib.sha256).hexdigest()
    """,
    "proj/db/__init__.py": "",
    "proj/db/base.py": """
        from sqlalchemy.orm import DeclarativeBase


        class Base(DeclarativeBase):
            pass
    """,
    "proj/db/models/__init__.py": "",
    "proj/db/models/dummy_model.py": """
        from sqlalchemy import String
        from sqlalchemy.orm import Mapped, mapped_column

        from proj.db.base import Base


        class DummyModel(Base):
            __tablename__ = "dummy_model"

            id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
            name: Mapped[str] = mapped_column(String(length=200))
    """,
    "proj/db/dao/__init__.py": "",
    "proj/db/dao/dummy_dao.py": """
        from fastapi import Depends
        from sqlalchemy import select
        from sqlalchemy.ext.asyncio import AsyncSession

        from proj.db.dependencies import get_db_session
        from proj.db.models.dummy_model import DummyModel


        class DummyDAO:
            def __init__(self, session: AsyncSession = Depends(get_db_session)) -> None:
                self.session = session

            async def create_dummy_model(self, name: str) -> None:
                self.session.add(DummyModel(name=name))

            async def get_all_dummies(self, limit: int, offset: int) -> list[DummyModel]:
                rows = await self.session.execute(select(DummyModel).limit(limit).offset(offset))
                return list(rows.scalars().fetchall())
    """,
    "proj/db/dependencies.py": """
        from collections.abc import AsyncGenerator

        from sqlalchemy.ext.asyncio import AsyncSession
        from starlette.requests import Request


        async def get_db_session(request: Request) -> AsyncGenerator[AsyncSession, None]:
            session: AsyncSession = request.app.state.db_session_factory()
            try:
                yield session
            finally:
                await session.commit()
                await session.close()
    """,
    "proj/web/__init__.py": "",
    "proj/web/lifespan.py": """
        from collections.abc import AsyncGenerator
        from contextlib import asynccontextmanager

        from fastapi import FastAPI
        from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

        from proj.settings import settings


        @asynccontextmanager
        async def lifespan_setup(app: FastAPI) -> AsyncGenerator[None, None]:
            engine = create_async_engine(str(settings.db_url))
            app.state.db_engine = engine
            app.state.db_session_factory = async_sessionmaker(engine, expire_on_commit=False)
            yield
            await engine.dispose()
    """,
    "proj/web/api/__init__.py": "",
    "proj/web/api/monitoring/__init__.py": "",
    "proj/web/api/monitoring/views.py": """
        from fastapi import APIRouter

        router = APIRouter()


        @router.get("/health")
        def health_check() -> None:
            \"\"\"Checks the health of a project.\"\"\"
    """,
    "proj/web/api/echo/__init__.py": "",
    "proj/web/api/echo/views.py": """
        from fastapi import APIRouter
        from pydantic import BaseModel

        router = APIRouter()


        class Message(BaseModel):
            message: str


        @router.post("/", response_model=Message)
        async def send_echo_message(incoming_message: Message) -> Message:
            \"\"\"Sends echo back to user.\"\"\"
            return incoming_message
    """,
    "proj/web/api/dummy/__init__.py": "",
    "proj/web/api/dummy/views.py": """
        from fastapi import APIRouter, Depends
        from pydantic import BaseModel, ConfigDict

        from proj.db.dao.dummy_dao import DummyDAO

        router = APIRouter()


        class DummyModelDTO(BaseModel):
            id: int
            name: str
            model_config = ConfigDict(from_attributes=True)


        class DummyModelInputDTO(BaseModel):
            name: str


        @router.get("/", response_model=list[DummyModelDTO])
        async def get_dummy_models(
            limit: int = 10, offset: int = 0, dummy_dao: DummyDAO = Depends()
        ) -> list[DummyModelDTO]:
            \"\"\"Retrieve all dummy objects from the database.\"\"\"
            return await dummy_dao.get_all_dummies(limit=limit, offset=offset)


        @router.put("/")
        async def create_dummy_model(
            new_dummy_object: DummyModelInputDTO, dummy_dao: DummyDAO = Depends()
        ) -> None:
            \"\"\"Creates dummy model in the database.\"\"\"
            await dummy_dao.create_dummy_model(name=new_dummy_object.name)
    """,
    "proj/web/api/router.py": """
        from fastapi.routing import APIRouter

        from proj.web.api import dummy, echo, monitoring

        api_router = APIRouter()
        api_router.include_router(monitoring.views.router)
        api_router.include_router(echo.views.router, prefix="/echo", tags=["echo"])
        api_router.include_router(dummy.views.router, prefix="/dummy", tags=["dummy"])
    """,
    "proj/web/application.py": """
        from pathlib import Path

        from fastapi import FastAPI
        from fastapi.responses import UJSONResponse
        from fastapi.staticfiles import StaticFiles

        from proj.web.api.router import api_router
        from proj.web.lifespan import lifespan_setup

        APP_ROOT = Path(__file__).parent.parent


        def get_app() -> FastAPI:
            app = FastAPI(
                title="proj",
                lifespan=lifespan_setup,
                docs_url=None,
                redoc_url=None,
                openapi_url="/api/openapi.json",
                default_response_class=UJSONResponse,
            )
            app.include_router(router=api_router, prefix="/api")
            app.mount("/static", StaticFiles(directory=APP_ROOT / "static"), name="static")
            return app
    """,
    "tests/__init__.py": "",
    "tests/conftest.py": """
        from collections.abc import AsyncGenerator

        import pytest
        from httpx import ASGITransport, AsyncClient
        from sqlalchemy.ext.asyncio import create_async_engine

        from proj.settings import settings
        from proj.web.application import get_app


        @pytest.fixture
        async def _engine():
            engine = create_async_engine(str(settings.db_url.with_path("/test")))
            yield engine
            await engine.dispose()


        @pytest.fixture
        async def client() -> AsyncGenerator[AsyncClient, None]:
            app = get_app()
            async with AsyncClient(transport=ASGITransport(app), base_url="http://test") as ac:
                yield ac
    """,
    "tests/test_echo.py": """
        async def test_echo(client) -> None:
            response = await client.post("/api/echo/", json={"message": "hi"})
            assert response.json() == {"message": "hi"}


        async def test_no_breaking_news(client) -> None:
            response = await client.post("/api/echo/", json={"message": "breaking"})
            assert "breaking" in response.text
    """,
    "tests/test_contract.py": """
        import schemathesis

        # schema = schemathesis.openapi.from_asgi("/api/openapi.json", get_app())
        #
        # @schema.parametrize()
        # def test_api(case):
        #     case.call_and_validate()
    """,
    ".github/workflows/tests.yml": """
        name: Testing proj
        on: push
        jobs:
          pytest:
            runs-on: ubuntu-latest
            services:
              proj-db:
                image: postgres:16.3-bullseye
            steps:
              - uses: actions/checkout@v4
              - run: pip install uv && uv sync
              - run: uv run mypy proj
              - run: uv run ruff check proj
              - run: uv run pytest -vv
    """,
}

SAMPLE = Sample(
    name="s3rius",
    shape="a project rendered from s3rius/FastAPI-template (SQLAlchemy)",
    files=FILES,
    framework="fastapi",
    routes={
        "GET /api/health": "infrastructure",
        "POST /api/echo/": "open",
        "GET /api/dummy/": "open",
        "PUT /api/dummy/": "open",
    },
    standards={
        "SEC-4": "fail",
        "TEST-3": "fail",
        "RES-2": "fail",
        "DB-4": "fail",
    },
    requirements={
        ("INF-1", "server entry point"): "met",
        ("INF-1", "no in-process workers"): "met",
        ("SEC-3", "every route declares access"): "missing",
        ("SEC-4", "rate limiter"): "missing",
        ("CFG-2", "secrets typed as secrets"): "missing",
        ("TEST-1", "API tests through the real application"): "met",
        ("TEST-1", "against real databases"): "met",
        ("TEST-3", "property-based API tests"): "missing",
        ("TEST-3", "breaking changes fail the build"): "missing",
        ("DB-1", "pool size and overflow"): "missing",
        ("DB-3", "NOT NULL"): "met",
        ("DB-4", "UUID primary keys"): "missing",
        ("OPS-3", "lint, types and tests"): "met",
        ("API-1", "business routes under /v1"): "missing",
        ("API-3", "request and response models"): "met",
    },
)
