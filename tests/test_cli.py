"""The `goldenpath` command line as a script meets it: exit codes and error lines, run for real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _goldenpath(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "goldenpath", *arguments],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_no_command_is_a_usage_error() -> None:
    """Called with no command, it says so on stderr and exits 2, as for any usage error."""
    called = _goldenpath()
    assert called.returncode == 2
    assert called.stdout == ""
    assert called.stderr.startswith("usage: goldenpath ")
    assert called.stderr.endswith(
        "goldenpath: error: the following arguments are required: COMMAND\n"
    )


def test_help_is_no_error() -> None:
    helped = _goldenpath("--help")
    assert helped.returncode == 0
    assert helped.stdout.startswith("usage: goldenpath ")
    assert "audit" in helped.stdout
    assert helped.stderr == ""


def test_audit_errors_read_like_every_other_subcommands(tmp_path: Path) -> None:
    """`goldenpath <sub>: error: <msg>`, the line reports_errors and argparse both write."""
    absent = tmp_path / "absent"
    audited = _goldenpath("audit", str(absent))
    assert audited.returncode == 2
    assert audited.stderr == f"goldenpath audit: error: {absent} is not a directory\n"
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = _goldenpath("audit", str(empty))
    assert nothing.returncode == 3
    assert nothing.stderr == f"goldenpath audit: error: nothing to audit: {empty} is empty\n"
    updated = _goldenpath("update-check", str(absent))
    assert updated.returncode == 2
    assert updated.stderr.startswith("goldenpath update-check: error: ")
