"""What the audit can read, what it says when it cannot, and how it fails on bad input.

- Python 3.14 code (`except A, B:`, template strings) is read on an older interpreter through
  an equivalent rewrite, and the report says so.
- A file that does not parse is read statement by statement; what cannot be read is listed in
  the report's "not read" list with the reason, as are files over the size limit. The list is
  in every report, empty or not.
- An empty folder or another language's repository is "nothing to audit" (exit 3), a
  10,000-term expression is no crash (no RecursionError traceback), and exit codes tell
  "below the threshold" (1) from a usage error (2) and "could not run" (3).
"""

from __future__ import annotations

import ast
import json
import resource
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from goldenpath import bounded_yaml
from goldenpath.audit import audit
from goldenpath.audit.facts import Facts
from goldenpath.audit.facts.chassis import MAX_WHEEL_BYTES, find_chassis
from goldenpath.audit.facts.grammar import parse_source, rewrite_314
from goldenpath.audit.model import NotRead
from goldenpath.cli import main
from tests.support.samples import flask_service, write

PYTHON_314 = """
try:
    connect()
except ConnectionError, TimeoutError:
    retry()
try:
    group()
except* ValueError, TypeError:
    pass
message = t"hello {name!r}"
"""


def test_audit_reads_python_314_syntax_through_an_equivalent_rewrite() -> None:
    rewritten = rewrite_314(PYTHON_314)
    assert rewritten is not None
    tree = ast.parse(rewritten)
    handlers = [node for node in ast.walk(tree) if isinstance(node, ast.ExceptHandler)]
    assert [ast.unparse(h.type) for h in handlers if h.type] == [
        "(ConnectionError, TimeoutError)",
        "(ValueError, TypeError)",
    ]
    assert "f'hello {name!r}'" in ast.unparse(tree)
    parsed = parse_source(PYTHON_314, "new.py")
    assert parsed.tree is not None
    assert parsed.problem is None
    assert parsed.rewritten is (sys.version_info < (3, 14))
    # Parenthesised forms, `as` clauses and plain names called t are left alone.
    assert rewrite_314("try:\n    x()\nexcept (A, B) as e:\n    t = 1\n") is None


def test_audit_reads_what_parses_of_a_broken_file_and_lists_the_rest(tmp_path: Path) -> None:
    deep = "total = " + " + ".join(["1"] * 10_000) + "\n"
    service = flask_service(tmp_path)
    write(
        service,
        {
            "legacy.py": "import csv\n\nprint 'exporting'\n\n\ndef kept():\n    return csv\n",
            "generated.py": "import os\n" + deep + "LIMIT = 3\n",
            "data/countries.py": "X = 1\n" + "# padding\n" * 220_000,
        },
    )
    report = audit(service)
    unread = {item.path: item.reason for item in report.not_read}
    assert unread["legacy.py"].startswith("partly read: lines 3-5 unparseable"), unread
    assert "nested too deeply" in unread["generated.py"]
    assert unread["data/countries.py"].startswith("too large")
    assert report.result("INF-1").status.value == "partial"  # the rest of the audit ran
    data = json.loads(_cli(service, "--format", "json").stdout)
    assert {item["path"] for item in data["not_read"]} == set(unread)


def test_audit_says_it_read_everything_when_it_did(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = flask_service(tmp_path)
    assert audit(service).not_read == ()
    assert main(["audit", str(service)]) == 0
    assert "Not read: nothing" in capsys.readouterr().out
    assert json.loads(_cli(service, "--format", "json").stdout)["not_read"] == []


def _cli(path: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "goldenpath", "audit", str(path), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_audit_exit_codes_separate_below_threshold_usage_and_could_not_run(
    tmp_path: Path,
) -> None:
    service = flask_service(tmp_path / "flask")
    assert _cli(service, "--fail-under", "0").returncode == 0
    below = _cli(service, "--fail-under", "99")
    assert below.returncode == 1
    assert "below --fail-under" in below.stderr
    assert _cli(tmp_path / "absent").returncode == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = _cli(empty)
    assert (nothing.returncode, nothing.stdout) == (3, "")
    assert "nothing to audit" in nothing.stderr
    go = write(tmp_path / "go", {"go.mod": "module example.com/x\n", "main.go": "package main\n"})
    no_python = _cli(go)
    assert no_python.returncode == 3
    assert "no Python found" in no_python.stderr
    assert "Go (go.mod)" in no_python.stderr
    for result in (below, nothing, no_python):
        assert "Traceback" not in result.stderr


def test_audit_a_deep_expression_is_no_crash(tmp_path: Path) -> None:
    service = write(
        tmp_path,
        {
            "app.py": "from fastapi import FastAPI\napp = FastAPI()\n"
            "x = (" + " + ".join(["a"] * 10_000) + ")\n"
            "@app.get('/v1/items')\ndef items():\n    return []\n",
        },
    )
    result = _cli(service, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    data = json.loads(result.stdout)
    assert [route["path"] for route in data["routes"]] == ["/v1/items"]
    assert "nested too deeply" in data["not_read"][0]["reason"]


def test_audit_writing_the_report_somewhere_impossible_could_not_run(tmp_path: Path) -> None:
    service = flask_service(tmp_path / "flask")
    result = _cli(service, "--output", str(tmp_path / "missing" / "dir" / "report.json"))
    assert result.returncode == 3
    assert "could not write the report" in result.stderr
    assert "Traceback" not in result.stderr


def test_audit_follows_no_symbolic_link_out_of_the_repository(tmp_path: Path) -> None:
    # A repository's link to the runner's files: what the audit reads can reach its report.
    outside = tmp_path / "runner"
    outside.mkdir()
    (outside / "secret").write_text("FROM registry.example/leaked-7f3a9c:1\n")
    service = flask_service(tmp_path / "service")
    (service / "Dockerfile").unlink()
    (service / "Dockerfile").symlink_to(outside / "secret")
    (service / "settings.toml").symlink_to("/dev/zero")  # read, it never ends
    (service / "own.toml").symlink_to("settings.toml.example")
    (service / "settings.toml.example").write_text("[tool]\nkept = true\n")

    report = audit(service)
    unread = {item.path: item.reason for item in report.not_read}
    assert unread["Dockerfile"] == f"not read: a symbolic link to {outside / 'secret'}, " + (
        "outside the repository"
    )
    assert unread["settings.toml"].startswith("not read: a symbolic link to /dev/zero")
    assert "own.toml" not in unread  # a link inside the repository is read
    output = _cli(service, "--format", "json").stdout
    assert "leaked-7f3a9c" not in output
    assert "Dockerfile" in {item["path"] for item in json.loads(output)["not_read"]}


def test_audit_does_not_inflate_a_chassis_wheel_past_any_chassis(tmp_path: Path) -> None:
    # `.chassis/` is the service's to commit: a few kilobytes of zip can inflate to gigabytes.
    pyproject = {"project": {"dependencies": ["goldenpath-chassis"]}}
    (tmp_path / ".chassis").mkdir()
    wheel = tmp_path / ".chassis" / "goldenpath_chassis-9.9.9-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("goldenpath_chassis/__init__.py", "VERSION = 1\n")
        with archive.open("goldenpath_chassis/padding.py", "w") as padding:
            for _ in range(MAX_WHEEL_BYTES // 1_000_000 + 1):
                padding.write(b"#" * 1_000_000)
    assert wheel.stat().st_size < 200_000
    found = find_chassis(tmp_path, pyproject)
    assert found is not None
    assert found.origin == "the audit's own release"

    # A wheel of a chassis's size is read as before; through a link out of the repository, not.
    outside = tmp_path.parent / f"{tmp_path.name}-outside.whl"
    with zipfile.ZipFile(outside, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("goldenpath_chassis/__init__.py", "VERSION = 1\n")
    wheel.unlink()
    wheel.symlink_to(outside)
    found = find_chassis(tmp_path, pyproject)
    assert found is not None
    assert found.origin == "the audit's own release"
    wheel.unlink()
    outside.rename(wheel)
    found = find_chassis(tmp_path, pyproject)
    assert found is not None
    assert found.origin == f"the wheel {wheel.relative_to(tmp_path)}"
    assert found.files["goldenpath-chassis/src/goldenpath_chassis/__init__.py"] == "VERSION = 1\n"


def test_audit_of_a_folder_reads_no_link_out_of_its_repository(tmp_path: Path) -> None:
    # Auditing `backend/` reads its repository's workflows (facts/files.py): those too.
    (tmp_path / "runner").mkdir()
    (tmp_path / "runner" / "secret.yml").write_text("on: push\njobs: {leaked: {}}\n")
    repository = tmp_path / "repository"
    shutil.rmtree(flask_service(repository / "backend") / ".github")  # the repository's, not its
    (repository / ".git").mkdir()
    workflows = repository / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text("on: push\njobs: {test: {}}\n")
    (workflows / "linked.yml").symlink_to(tmp_path / "runner" / "secret.yml")
    facts = Facts(repository / "backend")
    assert facts.outer_repository == repository
    assert facts.repository.outer_files == {".github/workflows/ci.yml"}


def _limited_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2**30, 2**30))  # a bomb fails here, not the host


def test_audit_reads_the_answers_file_as_the_update_tools_do(tmp_path: Path) -> None:
    # 900 bytes: ten lists of ten aliases of the one before, 10**10 items once printed, which
    # TPL-1's evidence did with `_src_path`.
    service = flask_service(tmp_path / "bomb")
    lists = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [
        f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 10)
    ]
    answers = service / ".copier-answers.yml"
    answers.write_text("_commit: v0.1.0\n" + "\n".join(lists) + "\n_src_path: *a9\n")
    assert answers.stat().st_size < 1000
    audited = subprocess.run(
        [sys.executable, "-m", "goldenpath", "audit", str(service), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=_limited_memory,
    )
    assert audited.returncode in {0, 1}, audited.stderr[-2000:]
    report = json.loads(audited.stdout)
    (unread,) = report["not_read"]
    assert unread["path"] == ".copier-answers.yml"
    assert unread["reason"].startswith("not valid YAML (an alias (*name), which Copier never")
    generated = next(s for s in report["standards"] if s["id"] == "TPL-1")
    assert generated["status"] == "fail"

    # Over 1 MB (and under the audit's 2 MB for any file): no answers file Copier wrote.
    answers.write_text("_commit: v0.1.0\n_src_path: gh:acme/goldenpath\n" + "# padding\n" * 100_001)
    (unread,) = audit(service).not_read
    assert unread == NotRead(".copier-answers.yml", "over 1 MB, not an answers file Copier wrote")


def _billion_laughs() -> str:
    """Ten lists of ten aliases of the one before: 10**10 items once walked or printed."""
    lists = ["x-a0: &a0 [x, x, x, x, x, x, x, x, x, x]"] + [
        f"x-a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 10)}]" for n in range(1, 10)
    ]
    return "\n".join(lists) + "\n"


def test_audit_refuses_yaml_whose_aliases_expand_past_its_bound(tmp_path: Path) -> None:
    # Aliases are legitimate in workflows and compose files; these ones ran the audit out of
    # memory when a check printed the step's inputs, the compose file's image (TEST-1, for a
    # service using Redis) and the manifest's name.
    service = flask_service(tmp_path / "bomb")
    with (service / "requirements.txt").open("a") as requirements:
        requirements.write("redis==5.0.8\n")
    workflow = service / ".github" / "workflows" / "ci.yml"
    workflow.write_text(
        _billion_laughs() + "on: push\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/setup-python@v5\n        with: {python-version: *a9}\n"
    )
    compose = service / "compose.yaml"
    compose.write_text(_billion_laughs() + "services:\n  db:\n    image: *a9\n")
    manifest = service / "deploy" / "deployment.yaml"
    manifest.parent.mkdir()
    manifest.write_text(
        _billion_laughs() + "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: *a9}\n"
    )
    assert workflow.stat().st_size < 1200
    audited = subprocess.run(
        [sys.executable, "-m", "goldenpath", "audit", str(service), "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=_limited_memory,
    )
    assert audited.returncode in {0, 1}, audited.stderr[-2000:]
    unread = {item["path"]: item["reason"] for item in json.loads(audited.stdout)["not_read"]}
    refused = "not read: YAML whose aliases expand past 2,000,000 nodes (a 'billion laughs')"
    assert unread == dict.fromkeys(
        (".github/workflows/ci.yml", "compose.yaml", "deploy/deployment.yaml"), refused
    )


# Read as a workflow (the CI checks) and, by its name, as a compose file (TEST-1's servers).
COMPOSE_NAMED_WORKFLOW = """
name: integration
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    services:
      redis: {image: "redis:7"}
    steps:
      - uses: actions/checkout@v4
      - run: docker compose up -d && pytest
"""


def test_audit_parses_a_yaml_file_once_however_many_checks_read_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service = flask_service(tmp_path / "service")
    with (service / "requirements.txt").open("a") as requirements:
        requirements.write("redis==5.0.8\n")
    workflow = service / ".github" / "workflows" / "docker-compose.yml"
    workflow.write_text(COMPOSE_NAMED_WORKFLOW)
    parsed: list[str] = []
    loader = bounded_yaml.DEFAULT_LOADER

    def counted(self: Any, stream: str) -> None:
        parsed.append(stream)
        loader.__init__(self, stream)

    monkeypatch.setattr(
        bounded_yaml, "DEFAULT_LOADER", type("CountedLoader", (loader,), {"__init__": counted})
    )
    report = audit(service)
    test_1 = {r.name: r for r in report.result("TEST-1").requirements}
    assert test_1["against real databases"].evidence[0].detail == "test: services redis"
    assert parsed.count(COMPOSE_NAMED_WORKFLOW) == 1  # twice when each reader parses it


def test_audit_lists_a_workflow_with_a_character_yaml_forbids_as_not_read(tmp_path: Path) -> None:
    # A control character: PyYAML's pure loader refused it as it started, and each check
    # reading the workflows failed with its ReaderError.
    service = flask_service(tmp_path / "service")
    (service / ".github" / "workflows" / "ci.yml").write_text("name: ci\x07\non: push\njobs: {}\n")
    report = audit(service)
    assert report.not_read == (
        NotRead(".github/workflows/ci.yml", "unparseable YAML: not read as a workflow"),
    )
    failed = [r.standard.id for r in report.results for q in r.requirements if "failed" in q.detail]
    assert failed == []


def test_audit_prints_no_syntax_warning_for_the_services_code(tmp_path: Path) -> None:
    """An invalid escape in the audited code ("\\d" in a plain string) is the service's to fix:
    Python's SyntaxWarning for it is not printed among the audit's own output."""
    service = flask_service(tmp_path)
    invalid_escape = 'import re\n\nDIGITS = re.compile("\\d+")\n'
    setup = 'from setuptools import setup\n\nsetup(install_requires=["flask"], url="\\d")\n'
    write(service, {"app/patterns.py": invalid_escape, "setup.py": setup})
    with pytest.warns(SyntaxWarning):  # what Python itself says about this code
        ast.parse(invalid_escape)
    result = _cli(service, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert json.loads(result.stdout)["not_read"] == []
