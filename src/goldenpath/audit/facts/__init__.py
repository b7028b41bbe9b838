"""Everything the checks read about a repository, each piece computed once, when first asked."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from goldenpath.answers import ANSWERS_FILE, AnswersError, parse_answers
from goldenpath.audit.model import Evidence

from .access import AccessAnalysis
from .chassis import ChassisSource, find_chassis
from .ci import ContinuousIntegration
from .dependencies import Dependencies
from .dockerfile import Dockerfile, find_dockerfiles
from .files import Repository
from .kubernetes import Kubernetes
from .python import PythonCode, literal
from .routes import Routes
from .symbols import Symbols

__all__ = ["ChassisSource", "Facts", "Library"]


@dataclass(frozen=True)
class Library:
    """A library known by its distribution names and the modules it is imported as."""

    label: str
    distributions: tuple[str, ...]
    modules: tuple[str, ...] = ()


# Clients of a database *server* (not embedded SQLite): what makes pooling (DB-1) and tests
# against a real server (TEST-1) apply.
SERVER_DATABASE_DRIVERS = (
    "psycopg",
    "psycopg2",
    "psycopg2-binary",
    "psycopg-pool",
    "asyncpg",
    "pymysql",
    "mysqlclient",
    "aiomysql",
    "pymongo",
    "motor",
    "oracledb",
    "pyodbc",
)
DATABASE_LIBRARIES = Library(
    "a database client",
    (
        "sqlalchemy",
        "sqlmodel",
        "django",
        "aiosqlite",
        "peewee",
        "tortoise-orm",
        "piccolo",
        "databases",
        "flask-sqlalchemy",
        *SERVER_DATABASE_DRIVERS,
    ),
    (
        "sqlalchemy",
        "sqlmodel",
        "django.db",
        "psycopg",
        "psycopg2",
        "asyncpg",
        "pymongo",
        "motor",
        "peewee",
        "tortoise",
        "piccolo",
        "databases",
        "flask_sqlalchemy",
        "sqlite3",
        "oracledb",
        "pyodbc",
    ),
)
REDIS = Library("Redis", ("redis", "aioredis", "valkey", "django-redis"), ("redis", "aioredis"))
HTTP_CLIENTS = Library(
    "an HTTP client", ("httpx", "requests", "aiohttp", "urllib3"), ("httpx", "requests", "aiohttp")
)
QUEUE_LIBRARIES = Library(
    "a task queue",
    (
        "celery",
        "rq",
        "dramatiq",
        "arq",
        "huey",
        "procrastinate",
        "taskiq",
        "saq",
        "pgqueuer",
        "django-q",
        "django-q2",
        "django-rq",
        "flask-rq2",
        "kombu",
        "aio-pika",
        "faststream",
    ),
    (
        "celery",
        "rq",
        "dramatiq",
        "arq",
        "huey",
        "procrastinate",
        "taskiq",
        "saq",
        "pgqueuer",
        "django_q",
        "django_rq",
    ),
)


class Facts:
    def __init__(self, root: Path, *, current_release: str | None = None) -> None:
        # The template release the service is measured against (TPL-2): the audit's own.
        self.current_release = current_release
        self.repository = Repository(root)
        # A service built on the chassis is audited together with the chassis it uses.
        self.chassis = find_chassis(self.repository.root, self.repository.toml("pyproject.toml"))
        if self.chassis is not None:
            self.repository.add_overlay(self.chassis.files)
        # A folder of a larger repository runs in that repository's CI.
        self.outer_repository = self.repository.adopt_outer_ci()
        self.code = PythonCode(self.repository)
        self.symbols = Symbols(self.code)
        self.routes = Routes(self.code, self.symbols)
        self.dependencies = Dependencies(self.repository)
        self.ci = ContinuousIntegration(self.repository)
        self.kubernetes = Kubernetes(self.repository)

    @cached_property
    def access(self) -> AccessAnalysis:
        """Who may call each route (facts/access.py)."""
        return AccessAnalysis(self)

    @cached_property
    def dockerfiles(self) -> list[Dockerfile]:
        return find_dockerfiles(self.repository)

    @property
    def dockerfile(self) -> Dockerfile | None:
        return self.dockerfiles[0] if self.dockerfiles else None

    @cached_property
    def test_functions(self) -> tuple[Evidence, ...]:
        """Every test function (`test_*`), with its name as the detail."""
        return tuple(
            module.evidence(node, node.name)
            for module in self.code.tests
            for node in module.functions()
            if node.name.startswith("test")
        )

    @cached_property
    def answers(self) -> dict[str, Any]:
        """The answers file, read as the update tools read it (answers.parse_answers): an alias
        of an alias of a list was billions of items once a check printed a value."""
        text = self.repository.text(ANSWERS_FILE)  # None: absent, or listed as not read
        if text is None:
            return {}
        try:
            loaded = parse_answers(text.encode("utf-8"))
        except AnswersError as error:
            self.repository.unread(ANSWERS_FILE, str(error))
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def library(self, library: Library, *, runtime_only: bool = True) -> list[Evidence]:
        """Where the service declares or imports `library` (declarations first)."""
        found = [
            d.evidence()
            for d in self.dependencies.find(*library.distributions, runtime_only=runtime_only)
        ]
        if library.modules:
            found.extend(self.code.imports_any(*library.modules))
        return found

    def uses(
        self, *distributions: str, modules: tuple[str, ...] = (), runtime_only: bool = True
    ) -> list[Evidence]:
        return self.library(Library("", distributions, modules), runtime_only=runtime_only)

    @cached_property
    def framework(self) -> str:
        for name, module in (
            ("fastapi", "fastapi"),
            ("django", "django"),
            ("flask", "flask"),
            ("starlette", "starlette"),
            ("quart", "quart"),
        ):
            if self.dependencies.has(name, runtime_only=True) or self.code.imports_any(module):
                return "flask" if name == "quart" else name
        return "unknown"

    @cached_property
    def has_database(self) -> list[Evidence]:
        return self.library(DATABASE_LIBRARIES)

    @cached_property
    def has_redis(self) -> list[Evidence]:
        return self.library(REDIS)

    @cached_property
    def has_http_client(self) -> list[Evidence]:
        """Outbound HTTP from the service's own code (a test-only client does not count)."""
        return self.code.imports_any(*HTTP_CLIENTS.modules)

    @cached_property
    def has_queue_library(self) -> list[Evidence]:
        return self.library(QUEUE_LIBRARIES)

    @cached_property
    def django_settings(self) -> dict[str, tuple[str, int, Any]]:
        """Upper-case settings of Django settings modules: name -> (path, line, value)."""
        found: dict[str, tuple[str, int, Any]] = {}
        for module in self.code.modules:
            assigned = {
                target.id
                for node in module.tree.body
                if isinstance(node, ast.Assign)
                for target in node.targets
                if isinstance(target, ast.Name)
            }
            if "INSTALLED_APPS" not in assigned and "MIDDLEWARE" not in assigned:
                continue
            for node in module.tree.body:
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name) and target.id.isupper():
                            value = literal(node.value)
                            found[target.id] = (
                                module.path,
                                node.lineno,
                                value if value is not None else node.value,
                            )
        return found

    def django_text(self, name: str) -> str:
        """A Django setting's source text ('' when unset): for settings built from calls."""
        found = self.django_settings.get(name)
        if found is None:
            return ""
        value = found[2]
        return ast.unparse(value) if isinstance(value, ast.AST) else repr(value)

    def django_setting(self, name: str) -> Evidence | None:
        found = self.django_settings.get(name)
        if found is None:
            return None
        path, line, value = found
        shown = repr(value) if not hasattr(value, "lineno") else "(computed)"
        return Evidence(path, line, f"{name} = {shown[:70]}")
