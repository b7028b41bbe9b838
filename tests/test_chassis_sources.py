"""TPL-5: a generated service gets goldenpath-chassis on every path a user takes, offline.

- generated from the template's git URL: a uv git source at the release tag, `subdirectory`
  chassis (here a `git+file://` URL of a tagged copy: the same git path, no network);
- generated from a local clone (the README's first command): a wheel built from that clone into
  the service's git-ignored `.chassis/`, which `chassis_source.py check` refuses before a push;
- a platform's own package index (`chassis_index_url`): here a PEP 503 index served on loopback
  from the chassis's wheel.
In each case the post-copy `uv lock` resolves and `uv sync --locked` installs the chassis.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread

import pytest

from tests.support.commands import REPOSITORY, run, uv_executable
from tests.support.releases import TemplateCopy, copier, working_tree_version

pytestmark = pytest.mark.slow

ANSWERS = ("--data=project_name=Source Probe", "--data=database=sqlite")


def chassis_source(project: Path) -> dict[str, object]:
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    source = pyproject["tool"]["uv"]["sources"]["goldenpath-chassis"]
    assert isinstance(source, dict)
    return source


def installed_chassis_version(project: Path) -> str:
    return run(
        [uv_executable(), "run", "--locked", "python", "-c",
         "import importlib.metadata as m; print(m.version('goldenpath-chassis'))"],
        cwd=project,
    ).stdout.strip()  # fmt: skip


def check(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, ".github/scripts/chassis_source.py", "check"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )


def test_tpl5_from_the_templates_git_url_the_chassis_comes_from_git_at_the_release(
    tmp_path: Path,
) -> None:
    template = TemplateCopy.of_working_tree(tmp_path / "template")
    tag = template.release(working_tree_version(), "the working tree")
    project = tmp_path / "service"
    url = f"git+file://{template.path}"
    copier("copy", "--trust", "--defaults", *ANSWERS, url, str(project), cwd=tmp_path)

    source = chassis_source(project)
    assert source == {
        "git": f"file://{template.path}",
        "subdirectory": "chassis",
        "tag": tag,
    }
    assert not list(project.glob(".chassis/*.whl"))
    assert installed_chassis_version(project) == str(working_tree_version())
    assert check(project).returncode == 0


def test_tpl5_from_a_local_clone_a_wheel_in_chassis_and_a_check_before_pushing(
    tmp_path: Path,
) -> None:
    project = tmp_path / "service"
    copier("copy", "--trust", "--defaults", *ANSWERS, str(REPOSITORY), str(project), cwd=tmp_path)

    wheel = chassis_source(project)["path"]
    assert isinstance(wheel, str)
    assert wheel.startswith(".chassis/")
    assert (project / wheel).is_file()
    assert (project / ".chassis" / "SOURCE").read_text().strip() == str(REPOSITORY)
    ignored = run(["git", "check-ignore", wheel], cwd=project).stdout.strip()
    assert ignored == wheel, "the wheel must never be committed"
    assert installed_chassis_version(project) == str(working_tree_version())
    refused = check(project)
    assert refused.returncode == 1
    assert "_src_path" in refused.stderr
    assert "chassis_index_url" in refused.stderr


@contextmanager
def package_index(root: Path) -> Iterator[str]:
    """A PEP 503 simple index of the wheels in `root`, on loopback."""
    project = root / "simple" / "goldenpath-chassis"
    project.mkdir(parents=True)
    links = "".join(
        f'<a href="../../{wheel.name}">{wheel.name}</a>\n' for wheel in root.glob("*.whl")
    )
    (project / "index.html").write_text(f"<!DOCTYPE html><html><body>\n{links}</body></html>\n")
    handler = partial(SimpleHTTPRequestHandler, directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/simple"
    finally:
        server.shutdown()
        server.server_close()


def test_tpl5_with_a_platform_index_the_chassis_comes_from_the_index(tmp_path: Path) -> None:
    wheels = tmp_path / "index"
    run(
        [uv_executable(), "build", "--wheel", "--quiet", "--out-dir", str(wheels), "chassis"],
        cwd=REPOSITORY,
    )
    project = tmp_path / "service"
    with package_index(wheels) as url:
        copier(
            "copy", "--trust", "--defaults", *ANSWERS, f"--data=chassis_index_url={url}",
            str(REPOSITORY), str(project), cwd=tmp_path,
        )  # fmt: skip
        assert chassis_source(project) == {"index": "platform"}
        assert not list(project.glob(".chassis/*.whl"))
        assert installed_chassis_version(project) == str(working_tree_version())
    assert check(project).returncode == 0
