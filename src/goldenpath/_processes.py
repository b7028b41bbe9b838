"""Running a command for a bounded time, and leaving nothing of it behind when it runs over.

`subprocess.run(timeout=...)` kills only the command itself: what it started (a template's task,
a git process) runs on after the timeout, orphaned. Here the command leads a process group of
its own, and the whole group is stopped.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

# How long the group has to exit on SIGTERM (git removes its lock files on it) before SIGKILL.
GRACE_SECONDS = 5.0
_POLL_SECONDS = 0.05
_PROC = Path("/proc")  # Linux: who is in the group, zombies told apart


def run_bounded(
    command: Sequence[str], *, cwd: Path, env: Mapping[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """`command`'s exit code, stdout and stderr, if it and every process it started are done
    within `timeout` seconds; else the whole process group is stopped and TimeoutExpired raised
    with the output so far. A process the command left running holding its output counts as
    the command still running."""
    with subprocess.Popen(
        list(command),
        cwd=cwd,
        env=dict(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            stop_group(process)
            try:
                stdout, stderr = process.communicate(timeout=GRACE_SECONDS)
            except subprocess.TimeoutExpired:  # a process that left the group holds the pipes
                stdout, stderr = "", ""
            raise subprocess.TimeoutExpired(process.args, timeout, stdout, stderr) from None
        finally:
            stop_group(process)  # what the command left running after it exited
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def stop_group(process: subprocess.Popen[str]) -> None:
    """SIGTERM to every process in `process`'s group, SIGKILL to those still there after
    GRACE_SECONDS; returns once the group is gone (or a second grace has passed)."""
    for signal_number in (signal.SIGTERM, signal.SIGKILL):
        if not _group_alive(process):
            return
        try:
            os.killpg(process.pid, signal_number)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + GRACE_SECONDS
        while _group_alive(process) and time.monotonic() < deadline:
            time.sleep(_POLL_SECONDS)


def _group_alive(process: subprocess.Popen[str]) -> bool:
    """Any live process left in the group. The leader is reaped first; an orphan that exited
    stays a zombie where PID 1 reaps nothing (a container without an init) and is not counted.
    The group's id stays `process.pid` while any member lives, so no other group takes it."""
    process.poll()
    try:
        os.killpg(process.pid, 0)
    except ProcessLookupError:
        return False
    return _live_member(process.pid) if _PROC.is_dir() else True


def _live_member(group: int) -> bool:
    for stat in _PROC.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # it exited while we looked
            continue
        # After the command's name: state, parent, process group.
        if len(fields) > 2 and fields[2] == str(group) and fields[0] not in {"Z", "X"}:
            return True
    return False
