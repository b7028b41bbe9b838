"""Start the service as a real process on loopback and wait for it, for process-level tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from .servers import free_port, port_listening

# free_port is this module's too: the load runner and the tests take it from here.
__all__ = ["PortInUseError", "ServiceProcess", "free_port", "start_service"]


@dataclass
class ServiceProcess:
    process: subprocess.Popen[bytes]
    base_url: str
    log_path: Path

    @property
    def port(self) -> int:
        return int(self.base_url.rpartition(":")[2])

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, sig: signal.Signals = signal.SIGTERM) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 30) -> int:
        return self.process.wait(timeout=timeout)

    def wait_timed(self, timeout: float = 30) -> tuple[int, float]:
        """The exit code, and the monotonic time it came: measured in the waiting thread, as a
        busy event loop would notice late."""
        code = self.process.wait(timeout=timeout)
        return code, time.monotonic()

    def wait_until_answers(self, path: str = "/health/live", *, timeout: float = 30) -> None:
        """Block until `path` answers below 500; fail with the output if the process dies."""
        deadline = time.monotonic() + timeout
        # One client for every poll: `httpx.get` builds one, loading the CA bundle, each time
        # (about 50 ms of CPU taken from the process that is starting).
        with httpx.Client(timeout=1) as client:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(
                        f"service exited with {self.process.returncode}:\n{self.output()}"
                    )
                try:
                    answered = client.get(self.base_url + path).status_code < 500
                except httpx.TransportError:
                    answered = False
                # An answer counts while the process lives: if it exited, someone else answered.
                if answered and self.process.poll() is None:
                    return
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"service did not answer {path} in {timeout}s:\n{self.output()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._abort_with_tracebacks()

    def _abort_with_tracebacks(self) -> None:
        """A service that ignores SIGTERM is hung: SIGABRT makes faulthandler (enabled by
        `start_service`) write every thread's traceback to the log, shown here (pytest prints
        it with the failure), so a hang can be read instead of guessed."""
        self.process.send_signal(signal.SIGABRT)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        print(
            f"service hung after SIGTERM; its last output:\n{self.output()[-8000:]}",
            file=sys.stderr,
        )


class PortInUseError(RuntimeError):
    """Something already listens on the port a service was to start on (free_port() found it
    free, and another process took it since): start again on another port."""


def start_service(
    command: Sequence[str],
    *,
    env: Mapping[str, str],
    port: int,
    log_path: Path,
    wait_path: str | None = "/health/live",
    timeout: float = 30,
    cwd: Path | None = None,
    stdout: int | None = None,
) -> ServiceProcess:
    """Run `python <command...>` with `env` on top of a clean environment; wait until it answers.

    Its output goes to `log_path`; with `stdout` (a file descriptor), its stdout goes there
    instead and the log holds its stderr alone.
    """
    # A clean environment (the service must not depend on the developer's shell), except what
    # the OS needs and coverage's variables, so the subprocess is measured too.
    full_env = {
        key: value
        for key, value in os.environ.items()
        if key in {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT"}
        or key.startswith("COVERAGE_")
    }
    full_env |= {
        "HOST": "127.0.0.1",
        "PORT": str(port),
        # A worker's listener (/metrics, probes) on the same free port: a process is one or the
        # other, and two workers of parallel tests must not both take the default.
        "WORKER_HTTP_PORT": str(port),
        "PYTHONUNBUFFERED": "1",
        "PYTHONFAULTHANDLER": "1",  # a hung service's tracebacks on SIGABRT (see `stop`)
        **env,
    }
    if port_listening(port):
        # Whoever it is would answer the wait below in the service's place.
        raise PortInUseError(f"something already listens on 127.0.0.1:{port}; pick another port")
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, *command],
        env=full_env,
        stdout=log if stdout is None else stdout,
        stderr=subprocess.STDOUT if stdout is None else log,
        cwd=cwd,
    )
    service = ServiceProcess(process, f"http://127.0.0.1:{port}", log_path)
    if wait_path is not None:
        service.wait_until_answers(wait_path, timeout=timeout)
    return service
