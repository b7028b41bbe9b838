"""TPL-2: an update that hangs is stopped. `copier update` runs the template's tasks and
migrations; one that never ends held `goldenpath fleet` (many services, one run) for ever.

A real template whose task starts a process of its own and waits on it for ten minutes, real
services and real `copier update` runs under a bound of a few seconds: the update fails with
an error naming the service, nothing Copier started is left running, and the service is as it
was.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from goldenpath._processes import run_bounded
from goldenpath.cli import main
from goldenpath.deleted_files import RenderError, render
from goldenpath.gates import run_gates
from tests.test_update_branch_failures import state
from tests.test_update_tools import commit, git, repository
from tests.test_update_trust import service_of

BOUND_SECONDS = 15  # Copier reaches the task in about 2.5 s on an idle machine


def template_that_hangs(path: Path, pids: Path) -> Path:
    """Releases v0.1.0 and v0.2.0. The task writes the ids of Copier, of itself and of a child
    of its own to `pids`, then waits on that child, which sleeps ten minutes."""
    template = repository(path)
    task = f"echo $PPID $$ > {pids}; sleep 600 & echo $! >> {pids}; wait"
    (template / "copier.yml").write_text(
        f"_subdirectory: project\n_tasks:\n  - [sh, -c, {json.dumps(task)}]\n"
    )
    (template / "project").mkdir()
    for release in ("v0.1.0", "v0.2.0"):
        (template / "project" / "README.md").write_text(f"{release}\n")
        commit(template, release)
        git(template, "tag", release)
    return template


def running(pid: int) -> bool:
    """The process runs (a zombie has ended: PID 1 here may never reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def still_running(pids: Path) -> list[int]:
    """Those of the processes the task wrote down that still run."""
    assert pids.exists(), "the task never ran: Copier took the whole bound to reach it"
    return [pid for pid in map(int, pids.read_text().split()) if running(pid)]


@pytest.mark.timeout(120)  # without the bound, the update waits out the task's ten minutes
def test_tpl2_the_fleet_stops_an_update_that_hangs_and_all_it_started(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pids = tmp_path / "pids"
    template = template_that_hangs(tmp_path / "template", pids)
    service = service_of(tmp_path / "orders", template)
    before = state(service)

    began = time.monotonic()
    code = main(
        [
            "fleet",
            str(service),
            f"--template={template}",
            f"--update-timeout={BOUND_SECONDS}",
            "--no-audit",
            "--no-cache",
            "--format=json",
        ]
    )
    took = time.monotonic() - began
    row = json.loads(capsys.readouterr().out)["services"][0]
    assert code == 1
    assert row["update"] == "failed"
    assert row["releases_behind"] == 1  # the row keeps what is known
    first_line = row["error"].splitlines()[0]
    assert first_line.startswith(f"orders ({service}): `copier update` to v0.2.0 did not finish ")
    assert f"within {BOUND_SECONDS} s" in first_line
    assert still_running(pids) == []
    assert took < BOUND_SECONDS + 30
    assert state(service) == before


@pytest.mark.timeout(120)
def test_tpl2_update_branch_stopped_at_its_bound_leaves_the_service_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pids = tmp_path / "pids"
    template = template_that_hangs(tmp_path / "template", pids)
    service = service_of(tmp_path / "orders", template)
    before = state(service)
    body = tmp_path / "pr.md"

    arguments = ["update-branch", str(service), "--gates=none", f"--pr-body={body}"]
    assert main([*arguments, f"--update-timeout={BOUND_SECONDS}"]) == 2
    error = capsys.readouterr().err
    assert error.startswith(
        f"goldenpath update-branch: error: orders ({service}): `copier update` to v0.2.0 did "
        f"not finish within {BOUND_SECONDS} s"
    )
    assert "Updating to template version 0.2.0" in error  # what it printed before it hung
    assert still_running(pids) == []
    # On its branch, at its commit, its tree clean; the update's branch is left, reset.
    assert state(service)[:3] == before[:3]
    assert not body.exists()


@pytest.mark.parametrize("value", ["0", "-5", "soon", "inf", "nan"])
def test_tpl2_the_update_timeout_is_a_number_of_seconds(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["update-preview", f"--update-timeout={value}"])
    assert exited.value.code == 2
    assert f"{value!r} is not a number of seconds above 0" in capsys.readouterr().err


def test_tpl2_what_a_command_leaves_running_when_it_exits_is_stopped_too(tmp_path: Path) -> None:
    # Its output elsewhere, a background process does not hold the command's pipes: the
    # command's exit is the end of the run, and the process was left behind.
    left = run_bounded(
        ["sh", "-c", "sleep 600 > /dev/null 2>&1 & echo $!"],
        cwd=tmp_path,
        env=os.environ,
        timeout=60,
    )
    assert left.returncode == 0
    assert not running(int(left.stdout))


# Other hangs: a template's server that never answers (the template's clone, the render that
# names the files a service deleted) and a gate whose build step never ends. Each has no
# normal path to wait for, so their bounds are short: what runs past them is the hang itself.
HANG_BOUND_SECONDS = 2


@pytest.fixture
def silent_server() -> Iterator[str]:
    """An http URL whose server takes the connection and never answers: git waits for ever."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(16)  # the kernel accepts the connections; nothing reads them
        yield f"http://127.0.0.1:{server.getsockname()[1]}/template.git"


def processes_naming(text: str) -> list[str]:
    """The command lines of the running processes that hold `text` (git and its helpers)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # it ended while we looked
            continue
        if text in line and running(int(cmdline.parent.name)):
            found.append(line)
    return found


@pytest.mark.timeout(60)  # unbounded, the command waits for ever
def test_tpl2_a_template_server_that_never_answers_is_left_at_the_bound(
    tmp_path: Path, silent_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    service = service_of(tmp_path / "orders", Path("/nowhere"))
    answers = service / ".copier-answers.yml"
    answers.write_text(f"_commit: v0.1.0\n_src_path: {silent_server}\n")
    commit(service, "the template moved")

    arguments = ["update-preview", str(service), "--gates=none"]
    assert main([*arguments, f"--update-timeout={HANG_BOUND_SECONDS}"]) == 2
    assert capsys.readouterr().err == (
        f"goldenpath update-preview: error: cannot read the template at {silent_server!r}: "
        f"`git clone {silent_server}` did not finish within {HANG_BOUND_SECONDS} s (a server that "
        "does not answer?), so it was stopped with every process it started\n"
    )
    assert processes_naming(silent_server) == []


@pytest.mark.timeout(60)  # unbounded, the command waits for ever
def test_tpl2_a_render_that_hangs_is_stopped_and_named(tmp_path: Path, silent_server: str) -> None:
    # Copier clones the template first; rendering would run its Jinja extensions.
    with pytest.raises(RenderError) as stopped:
        render(f"git+{silent_server}", "v0.2.0", {}, tmp_path / "after", timeout=HANG_BOUND_SECONDS)
    assert str(stopped.value).startswith(
        f"rendering the template at v0.2.0 (`copier copy`) did not finish within "
        f"{HANG_BOUND_SECONDS} s, so it was stopped with every process it started"
    )
    assert processes_naming(silent_server) == []


GATE_BOUND_SECONDS = 5  # uv reaches the build step in about 0.1 s on an idle machine


@pytest.mark.timeout(60)  # unbounded, the command waits for ever
def test_tpl2_a_gate_that_hangs_fails_and_leaves_nothing_running(tmp_path: Path) -> None:
    # `uv sync` builds the service (an in-tree build backend); the build waits on a child that
    # sleeps ten minutes. subprocess.run's timeout stopped uv and left both running.
    pids = tmp_path / "pids"
    service = tmp_path / "service"
    service.mkdir()
    (service / "pyproject.toml").write_text(
        '[project]\nname = "hangs"\nversion = "0.1.0"\n\n'
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n'
    )
    (service / "backend.py").write_text(
        "import os, subprocess\n\n"
        "def hang(*args, **kwargs):\n"
        '    child = subprocess.Popen(["sleep", "600"])\n'
        f"    with open({str(pids)!r}, 'w') as file:\n"
        '        file.write(f"{os.getpid()} {child.pid}\\n")\n'
        "    child.wait()\n\n"
        "build_wheel = build_editable = build_sdist = hang\n"
    )
    subprocess.run(["uv", "lock", "--offline", "--quiet"], cwd=service, check=True)

    sync, lint = run_gates(service, ["lint"], timeout_seconds=GATE_BOUND_SECONDS)
    assert (sync.name, sync.passed) == ("sync", False)
    assert sync.output.startswith(
        f"did not finish within {GATE_BOUND_SECONDS} s, so it was stopped with every process it "
        "started"
    )
    assert (lint.passed, lint.output) == (False, "not run: sync failed")
    assert still_running(pids) == []
