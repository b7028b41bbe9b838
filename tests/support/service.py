"""Start a generated service as a real process on loopback and talk to it."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from .servers import free_port


@dataclass
class RunningService:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    started_at: float

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start(
    project: Path,
    arguments: Sequence[str],
    *,
    env: Mapping[str, str],
    log_path: Path,
    wait_path: str = "/health/live",
    wait_status: int = 200,
    timeout: float = 60,
    python: Path | None = None,
) -> RunningService:
    """Start `<project>/.venv/bin/python <arguments>` (or `python`'s) and wait until `wait_path`
    answers."""
    port = free_port()
    base_env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    full_env = base_env | {"HOST": "127.0.0.1", "PORT": str(port)} | dict(env)
    python = python or project / ".venv" / "bin" / "python"
    log = log_path.open("wb")
    started_at = time.perf_counter()
    process = subprocess.Popen(
        [str(python), *arguments], cwd=project, env=full_env, stdout=log, stderr=subprocess.STDOUT
    )
    service = RunningService(process, f"http://127.0.0.1:{port}", log_path, started_at)
    deadline = time.monotonic() + timeout
    # One client for every poll: `httpx.get` builds a client, and loads the CA bundle, each
    # time (about 50 ms of CPU), which made each poll slow and took CPU from the very process
    # whose start-up is being waited for (and timed, by benchmarks/standards_cost.py).
    with httpx.Client(timeout=1) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise AssertionError(
                    f"service exited with {process.returncode}:\n{service.output()}"
                )
            try:
                if client.get(service.base_url + wait_path).status_code == wait_status:
                    return service
            except httpx.TransportError:
                pass
            time.sleep(0.02)
    service.stop()
    raise AssertionError(
        f"no {wait_status} from {wait_path} within {timeout}s:\n{service.output()}"
    )
