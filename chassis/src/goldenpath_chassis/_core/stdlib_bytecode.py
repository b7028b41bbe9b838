"""`python -m <package> compile-stdlib`: the runtime image's standard library, as bytecode.

Debian's Python packages ship the standard library as sources only (their install scripts
compile it; an image assembled from the packages, as distroless is, never runs them). In a
read-only container nothing can be cached either, so every process start compiles each standard
library module it imports, again. The service's Dockerfile runs this command in its build
stage: it finds the standard library modules the service's processes load, compiles them from
the runtime image's own copy of the sources, and writes the bytecode where Python looks for it
(`__pycache__` beside each source), ready to be copied into the runtime image.

Which modules: a fresh interpreter does what `serve` does up to its first answer (the app built
with tracing on, uvicorn's configuration loaded, the lifespan run on an SQLite database, one
probe answered), then imports what comes later or in the other processes (the first span
export, the Redis client, the PostgreSQL driver if installed, the worker, the migrations).
Only those: the image carries no bytecode for modules the service never loads.

Each file is checked against a hash of its source when it is imported, not against the
source's modification time, which a builder's copy between stages may round to the second.
A module whose source differs in the image (another base image, say) is compiled at start as
before: never stale, at worst no faster.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

# The module is imported with the command line (for `register`), so by every health check too:
# what only the command needs is imported inside it.
# ruff: noqa: PLC0415

if TYPE_CHECKING:
    from .domain import Subcommands
    from .service import Service
    from .settings import ChassisSettings

# Loaded after the first answer, or by the image's other processes.
LATER_IMPORTS = (
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "redis.asyncio",
    "opentelemetry.instrumentation.redis",
    "sqlalchemy.dialects.postgresql.asyncpg",
    # asyncpg imports these when it connects (the default user; SCRAM's SASLprep), which no
    # server here answers: found by the image test that watches every module's origin.
    "getpass",
    "stringprep",
    # The codec that name resolution encodes a host name with, at the first connection.
    "encodings.idna",
    "goldenpath_chassis._core.worker_process",
    "goldenpath_chassis._core.migrations",
)
_MARKER = "STDLIB_SOURCES "

# Run in a fresh interpreter (the command's own imports would count otherwise); argv[1] is the
# service's package. Prints the standard library sources it loaded, relative to the stdlib.
_RECORD = (
    f"MARKER = {_MARKER!r}\n"
    + """
import asyncio, importlib, importlib.machinery, importlib.util, json, sys, sysconfig
from pathlib import Path

from goldenpath_chassis._core.server import build_config

service = importlib.import_module(sys.argv[1] + ".service").SERVICE
settings = service.load_settings()
app = service.create_app(settings)
build_config(app, settings).load()


async def probe() -> None:
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/health/live", "raw_path": b"/health/live",
        "root_path": "", "query_string": b"", "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {},
    }
    async with app.router.lifespan_context(app):
        await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    if status != 200:
        raise SystemExit(f"/health/live answered {status}")


asyncio.run(probe())
for name in sys.argv[2:]:
    if importlib.util.find_spec(name.partition(".")[0]) is not None:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional part (a driver) that is not installed
            pass
stdlib = Path(sysconfig.get_paths()["stdlib"])
sources = set()
for module in list(sys.modules.values()):
    spec = getattr(module, "__spec__", None)
    if spec is None or not isinstance(spec.loader, importlib.machinery.SourceFileLoader):
        continue
    origin = Path(spec.origin)
    if origin.is_relative_to(stdlib):
        sources.add(origin.relative_to(stdlib).as_posix())
print(MARKER + json.dumps(sorted(sources)))
"""
)


class RecordingError(RuntimeError):
    """The service could not be started to see what it loads."""


@dataclass(frozen=True)
class Compiled:
    written: tuple[Path, ...]
    missing: tuple[str, ...]  # loaded here, but not in the runtime's copy of the stdlib

    @property
    def size(self) -> int:
        return sum(path.stat().st_size for path in self.written)


def loaded_stdlib_sources(package: str) -> list[str]:
    """The standard library sources the service's processes load, relative to the stdlib."""
    import json
    import os
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="compile-stdlib-") as folder:
        environment = {
            **os.environ,
            "APP_ENV": "development",
            "DATABASE_URL": f"sqlite+aiosqlite:///{Path(folder) / 'service.sqlite3'}",
            # Tracing on as in production; nothing listens there, and nothing is exported
            # before the process ends (probes are never traced).
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9",
            "LOG_LEVEL": "WARNING",
        }
        completed = subprocess.run(  # noqa: S603 - this interpreter, our own script
            [sys.executable, "-c", _RECORD, package, *LATER_IMPORTS],
            env=environment,
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    lines = [line for line in completed.stdout.splitlines() if line.startswith(_MARKER)]
    if completed.returncode != 0 or not lines:
        raise RecordingError(
            f"starting {package} to see what it loads failed (exit {completed.returncode}):\n"
            f"{completed.stderr.strip()[-4000:]}"
        )
    sources: list[str] = json.loads(lines[-1].removeprefix(_MARKER))
    return sources


def compile_sources(sources: list[str], *, source_root: Path, into: Path) -> Compiled:
    """Compile each source of `source_root` (the runtime's stdlib) into a mirror tree `into`.

    The bytecode names the source by its path in the runtime (this interpreter's stdlib, the
    same path on Debian's builder and runtime), so tracebacks do too.
    """
    import importlib.util
    import py_compile
    import sysconfig

    runtime_stdlib = Path(sysconfig.get_paths()["stdlib"])
    written: list[Path] = []
    missing: list[str] = []
    for relative in sources:
        source = source_root / relative
        if not source.is_file():
            missing.append(relative)
            continue
        target = Path(importlib.util.cache_from_source(str(into / relative)))
        target.parent.mkdir(parents=True, exist_ok=True)
        py_compile.compile(
            str(source),
            cfile=str(target),
            dfile=str(runtime_stdlib / relative),
            doraise=True,
            # Checked against the source's hash at import: mtimes do not survive every copy.
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
        )
        written.append(target)
    return Compiled(tuple(written), tuple(missing))


def _compile_stdlib(args: argparse.Namespace, settings: ChassisSettings) -> int:
    del settings  # the recording process sets its own
    service: Service = args.service
    source_root: Path = args.source
    if not source_root.is_dir():
        print(f"compile-stdlib: {source_root} is not a folder", file=sys.stderr)
        return 2
    try:
        sources = loaded_stdlib_sources(service.package)
    except RecordingError as error:
        print(f"compile-stdlib: {error}", file=sys.stderr)
        return 1
    compiled = compile_sources(sources, source_root=source_root, into=args.into)
    print(
        f"compiled {len(compiled.written)} standard library modules ({compiled.size / 1e6:.1f} MB)"
        f" into {args.into}"
    )
    if compiled.missing:
        print(f"not in {source_root}, left to compile at start: {', '.join(compiled.missing)}")
    return 0


def register(commands: Subcommands) -> None:
    parser = commands.add_parser(
        "compile-stdlib",
        help="compile the standard library modules the service loads (the Dockerfile runs it)",
        description=(
            "Start the service as `serve` does, list the standard library modules its "
            "processes load, and compile them from SOURCE (the runtime image's copy of the "
            "standard library) into INTO, a tree to copy over the runtime's stdlib."
        ),
    )
    parser.add_argument(
        "--from",
        dest="source",
        type=Path,
        required=True,
        metavar="SOURCE",
        help="the runtime's standard library folder, copied out of its image",
    )
    parser.add_argument(
        "--into", type=Path, required=True, help="where to write the __pycache__ tree"
    )
    parser.set_defaults(handler=_compile_stdlib)
