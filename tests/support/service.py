"""Start a generated service as a real process on loopback and talk to it."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import httpx

from .ports import on_free_port, raise_if_port_taken


@dataclass
class RunningService:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path
    started_at: float
    # Copies the service's output from a pipe to `log_path` (`start(log_through_pipe=True)`).
    log_copier: PipeCopier | None = None

    def output(self) -> str:
        """What the service has written so far (all of it, when it went through a pipe)."""
        if self.log_copier is not None:
            self.log_copier.catch_up()
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.log_copier is not None:
            self.log_copier.join(timeout)  # it ends at the pipe's end: every line copied
        return self.process.returncode


class PipeCopier(threading.Thread):
    """Reads a pipe and appends what it reads to a file, as a container runtime reads a
    service's stdout: each write to a pipe wakes a reader, which a write to a file does not."""

    def __init__(self, read_end: int, log: BinaryIO) -> None:
        super().__init__(daemon=True)
        self._read_end = read_end
        self._log = log
        # Held from a read to its write, and while the pipe is closed, so `catch_up` never sees
        # bytes that are in neither, nor asks a closed pipe.
        self._copying = threading.Lock()
        self._finished = False

    def run(self) -> None:
        try:
            while self._copy_what_is_there():
                pass
        finally:
            with self._copying:
                self._finished = True
                os.close(self._read_end)
                self._log.close()

    def _copy_what_is_there(self) -> bool:
        """Wait for output and copy it; False at the pipe's end (every writer closed it)."""
        select.select([self._read_end], [], [])
        with self._copying:
            chunk = os.read(self._read_end, 1 << 16)
            self._log.write(chunk)
            self._log.flush()
        return bool(chunk)

    def catch_up(self) -> None:
        """Return once everything written to the pipe so far is in the file."""
        while True:
            with self._copying:
                if self._finished or _unread_bytes(self._read_end) == 0:
                    return
            time.sleep(0.001)


def _unread_bytes(read_end: int) -> int:
    (count,) = struct.unpack("i", fcntl.ioctl(read_end, termios.FIONREAD, b"\0\0\0\0"))
    return int(count)


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
    log_through_pipe: bool = False,
) -> RunningService:
    """Start `<project>/.venv/bin/python <arguments>` (or `python`'s) on a free loopback port
    and wait until `wait_path` answers.

    A port something already listens on is never used (its answers would not be the
    service's), and a service that exits because the port was taken between the check and
    its bind is started again on another. Its output goes to `log_path`; with
    `log_through_pipe`, through a pipe a thread here copies from (`PipeCopier`), as a
    container runtime reads a service's stdout: what benchmarks measure against.
    """
    return on_free_port(
        lambda port: _start_on(
            port,
            project,
            arguments,
            env=env,
            log_path=log_path,
            wait_path=wait_path,
            wait_status=wait_status,
            timeout=timeout,
            python=python,
            log_through_pipe=log_through_pipe,
        )
    )


def _start_on(
    port: int,
    project: Path,
    arguments: Sequence[str],
    *,
    env: Mapping[str, str],
    log_path: Path,
    wait_path: str,
    wait_status: int,
    timeout: float,
    python: Path | None,
    log_through_pipe: bool,
) -> RunningService:
    base_env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    full_env = base_env | {"HOST": "127.0.0.1", "PORT": str(port)} | dict(env)
    python = python or project / ".venv" / "bin" / "python"
    log = log_path.open("wb")
    copier, output = None, log.fileno()
    if log_through_pipe:
        read_end, output = os.pipe()
        copier = PipeCopier(read_end, log)
        copier.start()
    started_at = time.perf_counter()
    try:
        process = subprocess.Popen(
            [str(python), *arguments],
            cwd=project,
            env=full_env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    finally:
        if copier is not None:
            os.close(output)  # the service holds the pipe's only write end now (if it started)
    service = RunningService(process, f"http://127.0.0.1:{port}", log_path, started_at, copier)
    deadline = time.monotonic() + timeout
    # One client for every poll: `httpx.get` builds a client, and loads the CA bundle, each
    # time (about 50 ms of CPU), which made each poll slow and took CPU from the very process
    # whose start-up is being waited for (and timed, by benchmarks/standards_cost.py).
    with httpx.Client(timeout=1) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                service.stop()  # the log copier's end: all it wrote is in the log
                written = service.output()
                raise_if_port_taken(written)
                raise AssertionError(f"service exited with {process.returncode}:\n{written}")
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
