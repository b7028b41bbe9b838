"""A process as PID 1 of a new PID namespace, as in its container, without one.

`unshare --pid --fork` (root only) forks the command into a fresh PID namespace, where it is
PID 1: the kernel drops every signal PID 1 has no handler for, as it does in a container with no
init. `unshare` stays outside as its parent and exits with its exit code; the tests signal the
command itself, found as unshare's child.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

# --kill-child: a test that gives up kills unshare, and the namespace goes with it.
UNSHARE = ("unshare", "--pid", "--fork", "--mount-proc", "--kill-child")

requires_pid_namespaces = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="new PID namespaces need root and unshare (util-linux)",
)


def spawn_as_pid1(
    arguments: Sequence[str], *, env: Mapping[str, str], log_path: Path
) -> subprocess.Popen[bytes]:
    """`python <arguments>` as PID 1, its stdout and stderr in `log_path`."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [*UNSHARE, sys.executable, *arguments],
            env={"PATH": os.environ["PATH"], "PYTHONUNBUFFERED": "1", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=log_path.parent,
        )


def namespace_init(unshare: subprocess.Popen[bytes]) -> int | None:
    """The PID (outside the namespace) of unshare's child, its PID 1; None until it is forked."""
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            lines = status.read_text().splitlines()
        except OSError:  # gone meanwhile
            continue
        if f"PPid:\t{unshare.pid}" in lines:
            return int(status.parent.name)
    return None


def handles(pid: int, sig: signal.Signals) -> bool:
    """Whether process `pid` has a handler for `sig` (its SigCgt mask, in /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (sig - 1) & 1)
    return False


def wait_until_handled(
    unshare: subprocess.Popen[bytes], sig: signal.Signals, *, bound: float
) -> bool:
    """Whether the namespace's PID 1 came to handle `sig` within `bound` seconds."""
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline and unshare.poll() is None:
        init = namespace_init(unshare)
        try:
            if init is not None and handles(init, sig):
                return True
        except FileNotFoundError:  # it exited since it was found
            return False
        time.sleep(0.01)
    return False


def signal_until_exit(
    unshare: subprocess.Popen[bytes], sig: signal.Signals, *, bound: float
) -> tuple[int | None, float]:
    """Send `sig` to the namespace's PID 1 at once, and again until the process exits (a signal
    before its handler is dropped, as in a container); its exit code, or None if it outlived
    `bound` seconds, and how long it took."""
    started = time.monotonic()
    init = None
    while time.monotonic() - started < bound:
        init = init or namespace_init(unshare)
        if init is not None:
            with contextlib.suppress(ProcessLookupError):  # it exited since it was found
                os.kill(init, sig)
        try:
            return unshare.wait(timeout=0.02), time.monotonic() - started
        except subprocess.TimeoutExpired:
            continue
    return None, time.monotonic() - started


def stop(unshare: subprocess.Popen[bytes]) -> None:
    if unshare.poll() is None:
        unshare.kill()
        unshare.wait()
