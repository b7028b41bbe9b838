"""A real Prometheus on a free loopback port, its data in a folder of the test's."""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from .ports import on_free_port, raise_if_port_taken


@dataclass(frozen=True)
class RunningPrometheus:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)


def start_prometheus(
    binary: str, config_file: Path, data: Path, log_path: Path, *, timeout: float = 60
) -> RunningPrometheus:
    """Start Prometheus and wait until it is ready (`/-/ready`); on another port if its first
    was taken before it bound it."""
    return on_free_port(
        lambda port: _start_on(port, binary, config_file, data, log_path, timeout=timeout)
    )


def _start_on(
    port: int, binary: str, config_file: Path, data: Path, log_path: Path, *, timeout: float
) -> RunningPrometheus:
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={data}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    prometheus = RunningPrometheus(process, port, log_path)
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=prometheus.base_url, timeout=1) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                output = prometheus.output()
                raise_if_port_taken(output)
                raise AssertionError(f"prometheus exited with {process.returncode}:\n{output}")
            try:
                if client.get("/-/ready").status_code == 200:
                    return prometheus
            except httpx.TransportError:
                pass
            time.sleep(0.1)
    prometheus.stop()
    raise AssertionError(f"prometheus was not ready within {timeout}s:\n{prometheus.output()}")
