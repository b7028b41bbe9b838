"""In the shape of fastapi/full-stack-fastapi-template: a `backend/` in a monorepo.

What makes it hard: the API prefix comes from a settings constant (`prefix=settings.API_V1_STR`);
the models are SQLModel `table=True` classes; the dependencies live in `backend/pyproject.toml`,
not at the root; the current-user dependency uses the Python 3.14 `except A, B:` form; routes
that take only a database session (login, signup) are open; tenacity retries with a fixed wait;
the tests run against PostgreSQL started by `docker compose` in CI, through scripts.
"""

from __future__ import annotations

from . import Sample

FILES = {
    "pyproject.toml": """
        [tool.uv.workspace]
        members = ["backend"]
    """,
    "compose.yml": """
        services:
          db:
            image: postgres:17
            environment:
              POSTGRES_PASSWORD: ${POSTGRES_PASSWORD?required}
          backend:
            build: backend
            depends_on: [db]
    """,
    ".github/workflows/test-backend.yml": """
        name: Test backend
        on: [push, pull_request]
        permissions:
          contents: read
        jobs:
          test:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
              - run: docker compose up -d db
              - name: Lint
                run: uv run bash scripts/lint.sh
                working-directory: backend
              - name: Run tests
                run: uv run bash scripts/tests-start.sh
                working-directory: backend
    """,
    "backend/pyproject.toml": """
        [project]
        name = "app"
        version = "0.1.0"
        requires-python = ">=3.10"
        dependencies = [
            "fastapi[standard]>=0.114.2",
            "sqlmodel>=0.0.21",
            "psycopg[binary]>=3.1.13",
            "pyjwt>=2.8.0",
            "pwdlib[argon2]>=0.2.1",
            "pydantic-settings>=2.2.1",
            "tenacity>=8.2.3",
            "alembic>=1.12.1",
            "httpx>=0.25.1",
        ]

        [dependency-groups]
        dev = ["pytest>=7.4.3", "mypy>=1.8.0", "ruff>=0.2.2", "coverage>=7.4.3"]
    """,
    "backend/scripts/lint.sh": """
        #!/usr/bin/env bash
        set -e
        mypy app
        ruff check app
    """,
    "backend/scripts/tests-start.sh": """
        #!/usr/bin/env bash
        set -e
        python app/wait_for_db.py
        coverage run -m pytest tests/
    """,
    "backend/Dockerfile": """
        FROM python:3.12
        WORKDIR /app/
        COPY ./pyproject.toml /app/
        RUN pip install .
        COPY ./app /app/app
        CMD ["fastapi", "run", "--workers", "4", "app/main.py"]
    """,
    "backend/alembic.ini": """
        [alembic]
        script_location = app/alembic
    """,
    "backend/app/__init__.py": "",
    "backend/app/core/__init__.py": "",
    "backend/app/core/config.py": """
        import secrets
        from typing import Literal, Self

        from pydantic import computed_field, model_validator
        from pydantic_settings import BaseSettings, SettingsConfigDict


        class Settings(BaseSettings):
            model_config = SettingsConfigDict(env_file="../.env", extra="ignore")

            API_V1_STR: str = "/api/v1"
            SECRET_KEY: str = secrets.token_urlsafe(32)
            ENVIRONMENT: Literal["local", "staging", "production"] = "local"
            FRONTEND_HOST: str = "http://localhost:5173"
            BACKEND_CORS_ORIGINS: list[str] = []
            POSTGRES_SERVER: str = "localhost"
            POSTGRES_USER: str = "app"
            POSTGRES_PASSWORD: str = "changethis"
            POSTGRES_DB: str = "app"

            @computed_field
            @property
            def all_cors_origins(self) -> list[str]:
                return [*self.BACKEND_CORS_ORIGINS, self.FRONTEND_HOST]

            @computed_field
            @property
            def database_url(self) -> str:
                return (
                    f"postgresql+psycopg://{self.POSTGRES_USER}:{self.POSTGRES_PASSWORD}"
                    f"@{self.POSTGRES_SERVER}/{self.POSTGRES_DB}"
                )

            @model_validator(mode="after")
            def _refuse_default_secrets(self) -> Self:
                if self.ENVIRONMENT != "local" and self.POSTGRES_PASSWORD == "changethis":
                    raise ValueError("set POSTGRES_PASSWORD outside local development")
                return self


        settings = Settings()
    """,
    "backend/app/core/db.py": """
        from sqlmodel import create_engine

        from app.core.config import settings

        engine = create_engine(settings.database_url)
    """,
    "backend/app/core/security.py": """
        from datetime import UTC, datetime, timedelta

        import jwt
        from pwdlib import PasswordHash

        from app.core.config import settings

        ALGORITHM = "HS256"
        password_hash = PasswordHash.recommended()


        def create_access_token(subject: str, expires: timedelta) -> str:
            claims = {"exp": datetime.now(UTC) + expires, "sub": subject}
            return jwt.encode(claims, settings.SECRET_KEY, algorithm=ALGORITHM)


        def verify_password(plain: str, hashed: str) -> bool:
            return password_hash.verify(plain, hashed)
    """,
    "backend/app/models.py": """
        import uuid
        from datetime import UTC, datetime

        from sqlmodel import Field, Relationship, SQLModel


        def utcnow() -> datetime:
            return datetime.now(UTC)


        class UserBase(SQLModel):
            email: str = Field(unique=True, index=True, max_length=255)
            is_active: bool = True
            is_superuser: bool = False


        class UserRegister(SQLModel):
            email: str = Field(max_length=255)
            password: str = Field(min_length=8, max_length=128)


        class User(UserBase, table=True):
            id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
            hashed_password: str
            created_at: datetime = Field(default_factory=utcnow)
            items: list["Item"] = Relationship(back_populates="owner")


        class UserPublic(UserBase):
            id: uuid.UUID


        class ItemCreate(SQLModel):
            title: str = Field(min_length=1, max_length=255)


        class Item(SQLModel, table=True):
            id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
            title: str = Field(max_length=255)
            owner_id: uuid.UUID = Field(foreign_key="user.id", ondelete="CASCADE")
            owner: User | None = Relationship(back_populates="items")


        class ItemPublic(SQLModel):
            id: uuid.UUID
            title: str


        class Token(SQLModel):
            access_token: str
            token_type: str = "bearer"
    """,
    "backend/app/api/__init__.py": "",
    "backend/app/api/deps.py": """
        from collections.abc import Generator
        from typing import Annotated

        import jwt
        from fastapi import Depends, HTTPException, status
        from fastapi.security import OAuth2PasswordBearer
        from jwt.exceptions import InvalidTokenError
        from pydantic import ValidationError
        from sqlmodel import Session

        from app.core import security
        from app.core.config import settings
        from app.core.db import engine
        from app.models import User

        oauth2 = OAuth2PasswordBearer(tokenUrl=f"{settings.API_V1_STR}/login/access-token")


        def get_db() -> Generator[Session]:
            with Session(engine) as session:
                yield session


        SessionDep = Annotated[Session, Depends(get_db)]
        TokenDep = Annotated[str, Depends(oauth2)]


        def get_current_user(session: SessionDep, token: TokenDep) -> User:
            try:
                claims = jwt.decode(token, settings.SECRET_KEY, algorithms=[security.ALGORITHM])
            except InvalidTokenError, ValidationError:
                raise HTTPException(status.HTTP_403_FORBIDDEN, "could not validate credentials")
            user = session.get(User, claims["sub"])
            if user is None or not user.is_active:
                raise HTTPException(status_code=404, detail="user not found")
            return user


        CurrentUser = Annotated[User, Depends(get_current_user)]


        def get_current_superuser(current_user: CurrentUser) -> User:
            if not current_user.is_superuser:
                raise HTTPException(status_code=403, detail="not enough privileges")
            return current_user
    """,
    "backend/app/api/main.py": """
        from fastapi import APIRouter

        from app.api.routes import items, login, users, utils

        api_router = APIRouter()
        api_router.include_router(login.router)
        api_router.include_router(users.router)
        api_router.include_router(utils.router)
        api_router.include_router(items.router)
    """,
    "backend/app/api/routes/__init__.py": "",
    "backend/app/api/routes/login.py": """
        from datetime import timedelta
        from typing import Annotated

        from fastapi import APIRouter, Depends, HTTPException
        from fastapi.security import OAuth2PasswordRequestForm
        from sqlmodel import select

        from app.api.deps import CurrentUser, SessionDep
        from app.core import security
        from app.models import Token, User, UserPublic

        router = APIRouter(tags=["login"])


        @router.post("/login/access-token")
        def login_access_token(
            session: SessionDep, form_data: Annotated[OAuth2PasswordRequestForm, Depends()]
        ) -> Token:
            \"\"\"OAuth2 password login: a token for the next requests.\"\"\"
            user = session.exec(select(User).where(User.email == form_data.username)).first()
            if not user or not security.verify_password(form_data.password, user.hashed_password):
                raise HTTPException(status_code=400, detail="incorrect email or password")
            return Token(access_token=security.create_access_token(str(user.id), timedelta(days=1)))


        @router.post("/login/test-token", response_model=UserPublic)
        def test_token(current_user: CurrentUser) -> User:
            \"\"\"Test the access token.\"\"\"
            return current_user


        @router.post("/password-recovery/{email}")
        def recover_password(email: str, session: SessionDep) -> dict[str, str]:
            \"\"\"Send a password recovery e-mail.\"\"\"
            return {"message": "sent"}
    """,
    "backend/app/api/routes/users.py": """
        from fastapi import APIRouter, Depends
        from sqlmodel import select

        from app.api.deps import CurrentUser, SessionDep, get_current_superuser
        from app.models import User, UserPublic, UserRegister

        router = APIRouter(prefix="/users", tags=["users"])


        @router.get("/", dependencies=[Depends(get_current_superuser)])
        def read_users(session: SessionDep) -> list[UserPublic]:
            \"\"\"Every user (superusers only).\"\"\"
            return [UserPublic.model_validate(u) for u in session.exec(select(User)).all()]


        @router.post("/signup", response_model=UserPublic)
        def register_user(session: SessionDep, user_in: UserRegister) -> User:
            \"\"\"Open registration.\"\"\"
            user = User(email=user_in.email, hashed_password=user_in.password)
            session.add(user)
            session.commit()
            return user


        @router.get("/me", response_model=UserPublic)
        def read_user_me(current_user: CurrentUser) -> User:
            \"\"\"The current user.\"\"\"
            return current_user
    """,
    "backend/app/api/routes/items.py": """
        from fastapi import APIRouter
        from sqlmodel import select

        from app.api.deps import CurrentUser, SessionDep
        from app.models import Item, ItemCreate, ItemPublic

        router = APIRouter(prefix="/items", tags=["items"])


        @router.get("/")
        def read_items(session: SessionDep, current_user: CurrentUser) -> list[ItemPublic]:
            \"\"\"The current user's items.\"\"\"
            items = session.exec(select(Item).where(Item.owner_id == current_user.id)).all()
            return [ItemPublic.model_validate(item) for item in items]


        @router.post("/")
        def create_item(
            session: SessionDep, current_user: CurrentUser, item_in: ItemCreate
        ) -> ItemPublic:
            \"\"\"Create an item.\"\"\"
            item = Item(title=item_in.title, owner_id=current_user.id)
            session.add(item)
            session.commit()
            return ItemPublic.model_validate(item)
    """,
    "backend/app/api/routes/utils.py": """
        from fastapi import APIRouter

        router = APIRouter(prefix="/utils", tags=["utils"])


        @router.get("/health-check/")
        async def health_check() -> bool:
            return True
    """,
    "backend/app/main.py": """
        from fastapi import FastAPI
        from starlette.middleware.cors import CORSMiddleware

        from app.api.main import api_router
        from app.core.config import settings

        app = FastAPI(title="app", openapi_url=f"{settings.API_V1_STR}/openapi.json")
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.all_cors_origins,
            allow_credentials=True,
            allow_methods=["*"],
            allow_headers=["*"],
        )
        app.include_router(api_router, prefix=settings.API_V1_STR)
    """,
    "backend/app/wait_for_db.py": """
        import logging

        from sqlmodel import Session, select
        from tenacity import retry, stop_after_attempt, wait_fixed

        from app.core.db import engine

        logger = logging.getLogger(__name__)


        @retry(stop=stop_after_attempt(300), wait=wait_fixed(1))
        def wait_for_database() -> None:
            with Session(engine) as session:
                session.exec(select(1))


        if __name__ == "__main__":
            wait_for_database()
    """,
    "backend/app/alembic/env.py": """
        from alembic import context
        from sqlmodel import SQLModel

        from app.core.config import settings

        target_metadata = SQLModel.metadata


        def run_migrations_online() -> None:
            context.configure(url=settings.database_url, target_metadata=target_metadata)
            with context.begin_transaction():
                context.run_migrations()


        run_migrations_online()
    """,
    "backend/app/alembic/versions/e2412789c190_initial.py": """
        import sqlalchemy as sa
        from alembic import op

        revision = "e2412789c190"
        down_revision = None


        def upgrade() -> None:
            op.create_table(
                "user",
                sa.Column("id", sa.Uuid(), nullable=False),
                sa.Column("email", sa.String(length=255), nullable=False),
                sa.PrimaryKeyConstraint("id"),
            )


        def downgrade() -> None:
            op.drop_table("user")
    """,
    "backend/tests/__init__.py": "",
    "backend/tests/conftest.py": """
        from collections.abc import Generator

        import pytest
        from fastapi.testclient import TestClient
        from sqlmodel import Session

        from app.core.db import engine
        from app.main import app


        @pytest.fixture(scope="session")
        def db() -> Generator[Session]:
            with Session(engine) as session:
                yield session


        @pytest.fixture(scope="module")
        def client() -> Generator[TestClient]:
            with TestClient(app) as c:
                yield c
    """,
    "backend/tests/api/test_items.py": """
        from fastapi.testclient import TestClient

        from app.core.config import settings


        def test_read_items_needs_a_token(client: TestClient) -> None:
            response = client.get(f"{settings.API_V1_STR}/items/")
            assert response.status_code == 401


        def test_signup_is_open(client: TestClient) -> None:
            response = client.post(
                f"{settings.API_V1_STR}/users/signup",
                json={"email": "a@example.com", "password": "long enough"},
            )
            assert response.status_code == 200
    """,
    "backend/tests/test_migrations.py": """
        from sqlmodel import SQLModel


        def test_models_listed_for_the_downgrade_review() -> None:
            assert "user" in SQLModel.metadata.tables
    """,
}

SAMPLE = Sample(
    name="fullstack",
    shape="fastapi/full-stack-fastapi-template (backend/ in a monorepo, SQLModel)",
    files=FILES,
    framework="fastapi",
    routes={
        "POST /api/v1/login/access-token": "open",
        "POST /api/v1/login/test-token": "authenticated",
        "POST /api/v1/password-recovery/{email}": "open",
        "GET /api/v1/users/": "authenticated",
        "POST /api/v1/users/signup": "open",
        "GET /api/v1/users/me": "authenticated",
        "GET /api/v1/items/": "authenticated",
        "POST /api/v1/items/": "authenticated",
        "GET /api/v1/utils/health-check/": "infrastructure",
    },
    standards={
        "INF-1": "partial",
        "SEC-2": "not applicable",
        "DB-3": "partial",
        "DB-4": "partial",
        "API-1": "partial",
        "TEST-3": "fail",
    },
    requirements={
        ("INF-1", "server entry point"): "met",
        ("INF-1", "no in-process workers"): "missing",
        ("SEC-3", "JWT with pinned algorithms"): "met",
        ("SEC-3", "issuer and audience checked"): "missing",
        ("SEC-3", "every route declares access"): "missing",
        ("SEC-5", "CORS with explicit origins"): "met",
        ("API-1", "business routes under /v1"): "met",
        ("RES-2", "retries with exponential backoff"): "missing",
        ("DB-1", "pool size and overflow"): "missing",
        ("DB-2", "every migration reversible"): "met",
        ("DB-2", "round trip tested"): "missing",
        ("DB-3", "UNIQUE constraints"): "met",
        ("DB-3", "CHECK constraints"): "missing",
        ("DB-3", "foreign keys"): "met",
        ("DB-4", "UUID primary keys"): "met",
        ("DB-4", "timestamps"): "met",
        ("DB-4", "indexes on foreign keys"): "missing",
        ("TEST-1", "API tests through the real application"): "met",
        ("TEST-1", "against real databases"): "met",
        ("OPS-3", "lint, types and tests"): "met",
        ("CFG-1", "production refuses development defaults"): "met",
        ("CFG-2", "secrets typed as secrets"): "missing",
    },
)
