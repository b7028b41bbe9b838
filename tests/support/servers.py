"""PostgreSQL and Redis for the template's own tests.

One implementation serves both the template's tests and every generated project's tests: the
module lives in the chassis (`goldenpath_chassis/testing/servers.py`, which has no dependency
beyond the standard library) and is loaded from there.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from .commands import REPOSITORY


def _load_generated_servers_module() -> ModuleType:
    path = REPOSITORY / "chassis" / "src" / "goldenpath_chassis" / "testing" / "servers.py"
    spec = importlib.util.spec_from_file_location("_template_test_servers", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses resolve annotations through sys.modules, so register before executing.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_servers = _load_generated_servers_module()

PostgresServer = _servers.PostgresServer
RedisServer = _servers.RedisServer
ServerUnavailableError = _servers.ServerUnavailableError
PORT_ATTEMPTS = _servers.PORT_ATTEMPTS
free_port = _servers.free_port
port_listening = _servers.port_listening
port_taken = _servers.port_taken
