"""The peer of `standards_cost.py --peer PATH`: the backend of fastapi/full-stack-fastapi-template,
the template a team would pick instead, served on this machine beside the generated service.

Nothing of the peer is kept: everything below happens in the benchmark's temporary folder, and
the benchmark says what it did.

- Its backend is copied from PATH: a clone of https://github.com/fastapi/full-stack-fastapi-template
  (or a bare git directory of it, read with `git archive`).
- It requires Python 3.14 and uses syntax 3.13 lacks. The copy is rewritten to what means the
  same on 3.13: `except A, B:` (PEP 758) becomes `except (A, B):`, and an annotation that names a
  class defined further down its module (which PEP 649 evaluates only when asked) is quoted.
- Its locked dependencies (`uv export` of its uv.lock, exact versions) go into a virtual
  environment made for the run, `requires-python` ignored, from uv's cache: the benchmark runs
  offline. `--peer-online` lets uv download them, once, to fill the cache.
- Its frontend is not built: the backend mounts `app/frontend`, which gets a placeholder page.
- It runs as its Dockerfile runs it, `fastapi run`, with one worker instead of four (one
  process, as the generated service), on a PostgreSQL of its own, migrated (`alembic upgrade
  head`) and given its first superuser (`app/initial_data.py`), as its `prestart.sh` does.
"""

from __future__ import annotations

import ast
import io
import re
import secrets
import shutil
import subprocess
import sys
import tarfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.support.commands import CommandFailedError, run, uv_executable
from tests.support.service import RunningService, start

API = "/api/v1"
READY_PATH = f"{API}/utils/health-check/"
PEER_REPOSITORY = "https://github.com/fastapi/full-stack-fastapi-template"
# PEP 758: `except A, B:` without parentheses (and without `as`), new in 3.14.
_UNPARENTHESIZED_EXCEPT = re.compile(
    r"^(?P<indent>\s*)except\s+(?P<types>[\w.]+(?:\s*,\s*[\w.]+)+)\s*:", re.MULTILINE
)


class PeerUnavailableError(RuntimeError):
    """The peer cannot be prepared here; the message says what is missing."""


@dataclass
class Prepared:
    backend: Path
    python: Path
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Seeded:
    token: str
    item_id: str
    items: int


def _archive(git_dir: Path, destination: Path, *paths: str) -> None:
    completed = subprocess.run(
        ["git", "--git-dir", str(git_dir), "archive", "--format=tar", "HEAD", *paths],
        capture_output=True,
        check=False,
    )
    if completed.returncode != 0:
        raise PeerUnavailableError(
            f"`git archive` of {git_dir} failed: {completed.stderr.decode(errors='replace')}"
        )
    with tarfile.open(fileobj=io.BytesIO(completed.stdout)) as archive:
        archive.extractall(destination, filter="data")


def copy_checkout(source: Path, destination: Path) -> Path:
    """The peer's backend, pyproject.toml and uv.lock, copied to `destination`; returns it."""
    destination.mkdir(parents=True)
    if (source / "backend").is_dir():
        shutil.copytree(source / "backend", destination / "backend")
        for name in ("pyproject.toml", "uv.lock"):
            shutil.copy2(source / name, destination / name)
    elif (source / "HEAD").is_file() and (source / "objects").is_dir():
        _archive(source, destination, "backend", "pyproject.toml", "uv.lock")
    else:
        raise PeerUnavailableError(
            f"{source} is not a checkout of full-stack-fastapi-template: get one with "
            f"`git clone {PEER_REPOSITORY}`"
        )
    if not (destination / "backend" / "app" / "main.py").is_file():
        raise PeerUnavailableError(f"{source} has no backend/app/main.py")
    return destination


def _parenthesize_excepts(text: str) -> tuple[str, int]:
    return _UNPARENTHESIZED_EXCEPT.subn(
        lambda match: f"{match['indent']}except ({match['types']}):", text
    )


def _forward_references(tree: ast.Module) -> list[ast.Name]:
    """Names in module-level annotations that refer to a class not yet defined there.

    Python 3.14 evaluates such annotations only when asked (PEP 649); 3.13 evaluates those of a
    class body or a function signature at once, and fails. Quoted, they mean the same to
    pydantic, SQLModel and FastAPI, which resolve them later."""
    defined_at = {node.name: node.lineno for node in tree.body if isinstance(node, ast.ClassDef)}
    found: list[ast.Name] = []

    def collect(annotation: ast.expr | None, line: int) -> None:
        if annotation is None:
            return
        for node in ast.walk(annotation):
            if isinstance(node, ast.Name) and defined_at.get(node.id, 0) >= line:
                found.append(node)

    for statement in tree.body:
        if isinstance(statement, ast.ClassDef):
            for member in statement.body:
                if isinstance(member, ast.AnnAssign):
                    collect(member.annotation, statement.lineno)
        elif isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
            arguments = statement.args
            for argument in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs):
                collect(argument.annotation, statement.lineno)
            collect(statement.returns, statement.lineno)
    return found


def _quote_forward_references(text: str) -> tuple[str, int]:
    names = _forward_references(ast.parse(text))
    lines = text.splitlines(keepends=True)
    # From the end, so earlier positions stay valid.
    for name in sorted(names, key=lambda n: (n.lineno, n.col_offset), reverse=True):
        line = lines[name.lineno - 1]
        lines[name.lineno - 1] = (
            line[: name.col_offset] + f'"{name.id}"' + line[name.end_col_offset :]
        )
    return "".join(lines), len(names)


def rewrite_for_this_python(backend: Path) -> list[str]:
    """Rewrite what only 3.14 accepts into what means the same on this Python; say what."""
    excepts = references = 0
    changed: list[str] = []
    for path in sorted((backend / "app").rglob("*.py")):
        original = path.read_text()
        text, fixed_excepts = _parenthesize_excepts(original)
        text, fixed_references = _quote_forward_references(text)
        if text != original:
            compile(text, str(path), "exec")  # still valid Python, or stop here
            path.write_text(text)
            changed.append(str(path.relative_to(backend)))
            excepts += fixed_excepts
            references += fixed_references
    notes = []
    if excepts:
        notes.append(f"{excepts} `except A, B:` (PEP 758) parenthesized")
    if references:
        notes.append(f"{references} forward references in annotations (PEP 649) quoted")
    if changed:
        notes.append("in " + ", ".join(changed))
    return notes


def install_dependencies(root: Path, venv: Path, *, online: bool) -> Path:
    """The peer's locked runtime dependencies in a new virtual environment; returns its python."""
    backend = tomllib.loads((root / "backend" / "pyproject.toml").read_text())
    package = backend["project"]["name"]
    requirements = root / "requirements.txt"
    run(
        [
            uv_executable(), "export", "--frozen", "--no-dev", "--no-hashes",
            "--no-emit-project", "--package", package, "--output-file", str(requirements),
            "--quiet",
        ],
        cwd=root,
    )  # fmt: skip
    run([uv_executable(), "venv", "--quiet", "--python", sys.executable, str(venv)], cwd=root)
    python = venv / "bin" / "python"
    install = [
        uv_executable(), "pip", "install", "--quiet", "--python", str(python),
        "--requirement", str(requirements),
    ]  # fmt: skip
    try:
        run([*install, *([] if online else ["--offline"])], cwd=root)
    except CommandFailedError as error:
        if online:
            raise
        raise PeerUnavailableError(
            "the peer's dependencies are not all in uv's cache, and the benchmark runs offline: "
            "run it once with `--peer-online` to download them"
        ) from error
    return python


def prepare(source: Path, workdir: Path, *, online: bool) -> Prepared:
    root = copy_checkout(source, workdir / "peer")
    backend = root / "backend"
    notes = [f"copied from {source} to a temporary folder; nothing of it is kept"]
    rewritten = rewrite_for_this_python(backend)
    if rewritten:
        notes.append(
            f"Python {sys.version_info[0]}.{sys.version_info[1]} here, the peer requires 3.14: "
            + "; ".join(rewritten)
        )
    python = install_dependencies(root, workdir / "peer-venv", online=online)
    notes.append(
        "its uv.lock's runtime dependencies installed with uv into a new virtual environment "
        f"({'downloads allowed' if online else 'offline, from the cache'}), requires-python "
        "ignored"
    )
    frontend = backend / "app" / "frontend"
    if not frontend.exists():
        frontend.mkdir()
        (frontend / "index.html").write_text("<!doctype html><title>not built</title>\n")
        notes.append("its frontend not built: app/frontend holds a placeholder page")
    return Prepared(backend, python, notes)


def environment(database_url: str) -> dict[str, str]:
    """What its settings require; fresh secrets (it refuses the documented placeholders)."""
    return {
        "PROJECT_NAME": "peer",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "DATABASE_URL": database_url,
        "FIRST_SUPERUSER": "admin@example.com",
        "FIRST_SUPERUSER_PASSWORD": secrets.token_urlsafe(16),
    }


def migrate(prepared: Prepared, env: Mapping[str, str]) -> None:
    """What its prestart.sh does: migrations, then the first superuser."""
    run([str(prepared.python), "-m", "alembic", "upgrade", "head"], cwd=prepared.backend, env=env)
    run([str(prepared.python), "-m", "app.initial_data"], cwd=prepared.backend, env=env)


# `fastapi run` as its Dockerfile's CMD, one worker, on the port `start` chose (in $PORT).
_FASTAPI_RUN = (
    "import os, runpy, sys; "
    "sys.argv = ['fastapi', 'run', '--workers', '1', '--host', '127.0.0.1', "
    "'--port', os.environ['PORT']]; "
    "runpy.run_module('fastapi', run_name='__main__')"
)


def start_peer(prepared: Prepared, env: Mapping[str, str], *, log_path: Path) -> RunningService:
    """The peer as its Dockerfile runs it, with one worker, on a free loopback port."""
    return start(
        prepared.backend,
        ["-c", _FASTAPI_RUN],
        env=env,
        log_path=log_path,
        wait_path=READY_PATH,
        python=prepared.python,
        log_through_pipe=True,
    )


def seed(service: RunningService, items: int) -> Seeded:
    """A user of its own (not the superuser, who sees everyone's items), signed in as its API
    requires (OAuth2 password flow), owning `items` items."""
    password = secrets.token_urlsafe(16)
    with httpx.Client(base_url=service.base_url + API, timeout=30) as client:
        client.post(
            "/users/signup",
            json={"email": "bench@example.com", "password": password, "full_name": "Bench"},
        ).raise_for_status()
        login = client.post(
            "/login/access-token", data={"username": "bench@example.com", "password": password}
        )
        login.raise_for_status()
        token = login.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        ids = []
        for number in range(items):
            created = client.post(
                "/items/",
                json={"title": f"Benchmark widget {number}", "description": "A widget, in blue."},
                headers=headers,
            )
            created.raise_for_status()
            ids.append(created.json()["id"])
        listing = client.get("/items/", headers=headers)
        listing.raise_for_status()
        if len(listing.json()["data"]) != items:
            raise PeerUnavailableError(f"the peer's list does not hold the {items} items made")
    return Seeded(token=token, item_id=ids[0], items=items)


# What each side does for one request, from its code and its configuration in this benchmark.
PER_REQUEST = (
    (
        "authentication",
        "JWT (EdDSA) verified against the issuer's key, once per token (then cached until its "
        "exp); scopes checked",
        "JWT (HS256) decoded; the user read from PostgreSQL on every request",
    ),
    (
        "rate limits",
        "two layers, per IP and per user, counted in Redis (leased in process memory)",
        "none",
    ),
    ("metrics", "Prometheus: request duration histogram, active requests", "none"),
    (
        "tracing",
        "every request: a server span, exported by OTLP/HTTP to a receiver",
        "none (Sentry only with SENTRY_DSN, unset)",
    ),
    ("logs", "a JSON access log line (request and trace IDs)", "uvicorn's access log line"),
    (
        "one item",
        "read through the cache: served from process memory, coherent with Redis",
        "the item read from PostgreSQL (after the user)",
    ),
    (
        "the list",
        "read through the cache, a group per owner (a SELECT with the owner filter on a miss)",
        "a COUNT and a SELECT of the caller's items",
    ),
    (
        "other",
        "request ID, security headers, header/body limits, CORS off, auth before the body",
        "CORS",
    ),
)
