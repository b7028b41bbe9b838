"""Start-up stays lean: serving does not load what only other commands or later work need.

Every module loaded before `/health/ready` can answer is start-up time (docs/deployment.md,
"Start-up"). This starts the app as `serve` does, tracing on, in a fresh interpreter, and
fails if a module that serving does not need at start-up has crept in, for instance through a
new top-level import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from goldenpath_chassis._core.security.dev_keys import SigningKey
from goldenpath_chassis.testing.auth import auth_environment
from goldenpath_chassis.testing.processes import free_port

from tests.support.example_process import importable

pytestmark = pytest.mark.process

OTLP_EXPORT = "the OTLP exporter, built on the first export (goldenpath_chassis._core.otlp)"
# Each with where it belongs instead.
NOT_AT_STARTUP = {
    "alembic": "the migrate command (and the embedded development database)",
    "boto3": "the AWS Secrets Manager source, only when configured",
    "botocore": "the AWS Secrets Manager source, only when configured",
    "requests": OTLP_EXPORT,
    "urllib3": OTLP_EXPORT,
    "google.protobuf": OTLP_EXPORT,
    "opentelemetry.exporter.otlp.proto.http": "the first export (goldenpath_chassis._core.otlp)",
    "wsproto": "WebSockets, which the service does not serve (_core/server.py: ws='none')",
    "websockets": "WebSockets, which the service does not serve (_core/server.py: ws='none')",
    "goldenpath_chassis._core.migrations": "the migrate command (Alembic's runner)",
    "goldenpath_chassis._core.worker_process": "the worker command",
    "goldenpath_chassis.testing": "a service's tests (real servers, fixtures, OTLP receiver)",
    "schemathesis": "the contract tests",
    "moto": "the tests",
}

# What `serve` does up to the first request: the app, its lifespan (resources opened, tracing
# on), uvicorn's configuration loaded. Then the loaded modules, as one JSON line.
SERVE_UNTIL_READY = textwrap.dedent(
    """
    import asyncio, json, sys

    from asgi_lifespan import LifespanManager

    from goldenpath_chassis._core.server import build_config
    from tests.example.service import SERVICE

    settings = SERVICE.load_settings()
    app = SERVICE.create_app(settings)
    build_config(app, settings).load()

    async def main() -> None:
        async with LifespanManager(app):
            print("MODULES", json.dumps(sorted(sys.modules)))

    asyncio.run(main())
    """
)


def test_serving_loads_no_module_it_does_not_need_at_startup(
    tmp_path: Path, signing_key: SigningKey
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT"}
    }
    env |= {
        **importable(),
        "APP_ENV": "development",
        # A database of its own: without DATABASE_URL, development migrates (Alembic) itself.
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'startup.sqlite3'}",
        # Tracing on, towards a port nobody listens on: nothing is exported before the check.
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}",
        **auth_environment(signing_key),
    }
    result = subprocess.run(
        [sys.executable, "-c", SERVE_UNTIL_READY],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    line = next(line for line in result.stdout.splitlines() if line.startswith("MODULES "))
    loaded = set(json.loads(line.removeprefix("MODULES ")))
    # The script did build the app, with the example's domains.
    assert {"goldenpath_chassis._core.api", "tests.example.widgets"} <= loaded
    unexpected = {
        name: reason
        for name, reason in NOT_AT_STARTUP.items()
        if any(module == name or module.startswith(name + ".") for module in loaded)
    }
    assert not unexpected, f"loaded at start-up, but belong elsewhere: {unexpected}"
