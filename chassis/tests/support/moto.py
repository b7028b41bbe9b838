"""moto's server mode on loopback: the official local emulator for AWS APIs (CFG-2 tests).

Started as a real process, reached over HTTP by boto3 like the real AWS endpoint, so the code
under test makes the same calls it makes in production.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def moto_server_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "moto_server"
    return str(beside_python) if beside_python.exists() else shutil.which("moto_server")


@contextmanager
def moto_server(tmp_path: Path) -> Iterator[str]:
    """Yield the endpoint URL of a fresh moto server."""
    binary = moto_server_binary()
    if binary is None:
        raise RuntimeError("moto_server is missing: `uv sync` installs moto[server] (dev group)")
    port = _free_port()
    log = (tmp_path / "moto.log").open("wb")
    process = subprocess.Popen(
        [binary, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"moto_server exited: {(tmp_path / 'moto.log').read_text()}")
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        else:
            raise TimeoutError("moto_server did not start in 30 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()
