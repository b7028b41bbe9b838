"""TPL-1: `copier copy` without a reachable package index exits non-zero and says how to finish.

Real Copier, real uv: `UV_OFFLINE=1` with an empty cache makes `uv lock` (and the chassis
wheel's build) fail at once, as an unreachable index would, without waiting on the network.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.commands import REPOSITORY


def _copy_offline(
    tmp_path: Path, destination: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    cache = tmp_path / "empty-uv-cache"
    cache.mkdir()
    env = {**os.environ, "UV_OFFLINE": "1", "UV_CACHE_DIR": str(cache)}
    command = [sys.executable, "-m", "copier", "copy", "--quiet", "--trust", "--defaults"]
    command += ["--vcs-ref", "HEAD", "--data", "project_name=Offline Probe", *args]
    command += [str(REPOSITORY), str(destination)]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False)


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("post-copy: error:")]


def test_tpl1_a_failed_lock_fails_the_copy_and_says_to_run_it_again(tmp_path: Path) -> None:
    """Copier removes the folder it created, so the way to finish is the same command again."""
    destination = tmp_path / "service"
    index = "--data=chassis_index_url=https://pypi.acme.internal/simple"  # no wheel to build
    result = _copy_offline(tmp_path, destination, index)
    assert result.returncode == 1, result.stderr
    [line] = _error_lines(result.stderr)
    assert "`uv lock` failed (see above), so the service has no uv.lock" in line
    assert "run the same `copier copy` again once the package index is reachable" in line
    assert f"add --no-cleanup and run `uv lock` in {destination}." in line
    assert "post-copy: done" not in result.stderr
    assert not destination.exists()


def test_tpl1_a_failed_lock_with_no_cleanup_keeps_the_files_and_names_the_step(
    tmp_path: Path,
) -> None:
    """From a local clone the chassis wheel cannot be built either: the refresh does both."""
    destination = tmp_path / "service"
    result = _copy_offline(tmp_path, destination, "--no-cleanup")
    assert result.returncode == 1, result.stderr
    [line] = _error_lines(result.stderr)
    assert line == (
        "post-copy: error: `uv lock` failed (see above), so the service has no uv.lock; the "
        "files are kept: run `python3 .github/scripts/chassis_source.py refresh` in "
        f"{destination} once the package index is reachable."
    )
    assert (destination / "pyproject.toml").is_file()
    assert not (destination / "uv.lock").exists()
    # What the refresh needs to find the clone to build the wheel from.
    assert (destination / ".chassis" / "SOURCE").read_text() == f"{REPOSITORY}\n"
