"""`goldenpath audit`: the scorecard, JSON for dashboards, SARIF for code scanning, exit codes
CI can gate on, and `--compare` against an earlier JSON report."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from goldenpath.audit.catalogue import AREAS, STANDARDS
from goldenpath.cli import main
from tests.support.commands import run
from tests.support.ports import refusing_port
from tests.support.samples import flask_service
from tests.support.sarif import SARIF_CODE_SCANNING_SCHEMA

VENV_BIN = Path(sys.executable).parent
DIGEST = "sha256:" + "a" * 64


@pytest.fixture
def service(tmp_path: Path) -> Path:
    return flask_service(tmp_path / "flask")


def audit_json(service: Path, *extra: str, capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    assert main(["audit", str(service), "--format", "json", *extra]) == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return data


def test_audit_table_is_a_scorecard_per_area_with_fixes(
    service: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["audit", str(service)]) == 0
    table = capsys.readouterr().out
    assert "Overall score" in table
    for area in AREAS:
        assert area.title in table
    assert "FAIL     OPS-2" in table
    assert "fix: " in table
    assert "not applicable" in table


def test_audit_json_recomputes_to_its_own_scores(
    service: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = audit_json(service, capsys=capsys)
    assert data["schema"] == "goldenpath-audit/1"
    assert [s["id"] for s in data["standards"]] == [s.id for s in STANDARDS]
    scored_areas = {area["key"] for area in data["areas"] if area["scored"]}
    scores = [
        s["score"]
        for s in data["standards"]
        if s["area"] in scored_areas and s["score"] is not None
    ]
    assert data["score"] == pytest.approx(sum(scores) / len(scores), abs=0.1)
    for standard in data["standards"]:
        requirements = [r for r in standard["requirements"] if r["outcome"] != "not applicable"]
        if standard["status"] == "not applicable":
            assert standard["not_applicable"], standard["id"]
            continue
        met = sum(r["outcome"] == "met" for r in requirements)
        assert standard["score"] == pytest.approx(100 * met / len(requirements), abs=0.1)
        for requirement in requirements:
            assert (requirement["fix"] is None) == (requirement["outcome"] == "met"), requirement
    assert sum(data["summary"].values()) == len(
        [s for s in data["standards"] if s["area"] in scored_areas]
    )


def test_audit_sarif_is_valid_for_code_scanning(
    service: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = tmp_path / "audit.sarif"
    assert main(["audit", str(service), "--format", "sarif", "--output", str(output)]) == 0
    assert "report in" in capsys.readouterr().err
    schema = tmp_path / "sarif-code-scanning.schema.json"
    schema.write_text(json.dumps(SARIF_CODE_SCANNING_SCHEMA))
    run(
        [str(VENV_BIN / "check-jsonschema"), "--schemafile", str(schema), str(output)], cwd=tmp_path
    )
    sarif = json.loads(output.read_text())
    run_ = sarif["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == [s.id for s in STANDARDS]
    results = run_["results"]
    assert results, "a service that misses standards has results"
    fingerprints = [next(iter(r["partialFingerprints"].values())) for r in results]
    assert len(set(fingerprints)) == len(fingerprints)
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert (service / uri).is_file(), uri
    dockerfile = [
        r for r in results if r["ruleId"] == "OPS-1" and "pinned by digest" in r["message"]["text"]
    ]
    assert dockerfile[0]["locations"][0]["physicalLocation"]["region"]["startLine"] == 1
    assert {r["level"] for r in results} <= {"error", "warning", "note"}


def test_audit_exit_codes_gate_on_score_and_required_standards(
    service: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def code(*arguments: str) -> int:
        result = main(["audit", str(service), "--format", "json", *arguments])
        capsys.readouterr()
        return result

    assert code("--fail-under", "0") == 0
    assert code("--fail-under", "99") == 1
    assert code("--require", "INF-1") == 1  # partial: 4 gunicorn workers
    assert code("--require", "sec-2,DB-1") == 0  # not applicable counts as met
    assert code("--require", "NOPE-1") == 2
    assert main(["audit", str(tmp_path / "absent")]) == 2
    assert "not a directory" in capsys.readouterr().err
    for percent in ("150", "abc"):
        with pytest.raises(SystemExit) as usage:
            main(["audit", str(service), "--fail-under", percent])
        assert usage.value.code == 2
        assert f"{percent} is not a percentage between 0 and 100" in capsys.readouterr().err


def test_audit_compare_shows_what_improved_and_what_regressed(
    service: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = tmp_path / "previous.json"
    assert main(["audit", str(service), "--format", "json", "--output", str(previous)]) == 0
    (service / "Dockerfile").write_text(
        f"FROM python:3.12-slim@{DIGEST} AS build\n"
        "RUN pip wheel --wheel-dir /wheels flask gunicorn\n"
        f"FROM gcr.io/distroless/python3-debian12:nonroot@{DIGEST}\n"
        "COPY --from=build /wheels /wheels\n"
        "USER 65532:65532\n"
        'CMD ["gunicorn", "app:app"]\n'
    )
    (service / ".dockerignore").write_text(".git\n.env\n")
    shutil.rmtree(service / "tests")
    capsys.readouterr()

    data = audit_json(service, "--compare", str(previous), capsys=capsys)
    comparison = data["comparison"]
    improved = {entry["id"] for entry in comparison["improved"]}
    regressed = {entry["id"]: entry for entry in comparison["regressed"]}
    assert {"OPS-1", "INF-1"} <= improved
    assert "TEST-1" in regressed
    assert "test suite" in regressed["TEST-1"]["newly_missing"]
    assert comparison["score_change"] == pytest.approx(
        data["score"] - json.loads(previous.read_text())["score"], abs=0.1
    )

    assert main(["audit", str(service), "--compare", str(previous)]) == 0
    table = capsys.readouterr().out
    assert "Regressed  TEST-1" in table
    assert "Improved   OPS-1" in table


def test_audit_compare_refuses_what_is_not_a_report(
    service: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    other = tmp_path / "other.json"
    other.write_text('{"score": 3}')
    assert main(["audit", str(service), "--compare", str(other)]) == 2
    assert "not a goldenpath audit JSON report" in capsys.readouterr().err
    assert main(["audit", str(service), "--compare", str(tmp_path / "missing.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("previous", "problem"),
    [
        ({"score": "x", "standards": 5}, "`score` is 'x', not a number"),
        ({"score": 80.0}, "`standards` is not a list of objects"),  # was 'score_change: 100'
        ({"score": 80.0, "standards": [{"id": "SEC-1"}]}, "`standards` is not a list of objects"),
        (
            {"score": 8, "standards": [{"id": "X", "title": "", "status": "", "score": "9"}]},
            "standard 'X': `score` is '9', not a number",
        ),
    ],
)
def test_audit_compare_refuses_a_report_that_is_not_whole(
    service: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    previous: dict[str, Any],
    problem: str,
) -> None:
    damaged = tmp_path / "previous.json"
    damaged.write_text(json.dumps({"schema": "goldenpath-audit/1", **previous}))
    assert main(["audit", str(service), "--compare", str(damaged)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        f"goldenpath audit: error: {damaged} is not a whole audit JSON report: {problem}"
    )
    assert captured.err.count("\n") == 1


def test_audit_list_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["audit", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(standard.id in listed for standard in STANDARDS)
    with pytest.raises(SystemExit) as helped:
        main(["--help"])
    assert helped.value.code == 0
    assert "audit" in capsys.readouterr().out


@pytest.mark.parametrize(
    "option",
    ["--url=notaurl", "--url=ftp://example.com", "--url=http://[::1", "--probe-timeout=-1",
     "--probe-timeout=0", "--probe-timeout=nan", "--probe-timeout=soon"],
)  # fmt: skip
def test_audit_refuses_a_url_or_timeout_that_cannot_probe(
    service: Path, option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as usage:
        main(["audit", str(service), "--url=http://127.0.0.1:8000", option])
    assert usage.value.code == 2
    assert "not a positive number of seconds" in (err := capsys.readouterr().err) or (
        "is not an http:// or https:// URL" in err
    )


def test_audit_of_a_url_that_does_not_answer_could_not_run(
    service: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Not 0 with only a note: the live checks asked for did not run ("could not tell").
    report = tmp_path / "report.json"
    with refusing_port() as port:
        url = f"http://127.0.0.1:{port}"
        arguments = ["audit", str(service), f"--url={url}", "--probe-timeout=1", "--format=json"]
        assert main([*arguments, f"--output={report}"]) == 3
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.startswith(
        f"goldenpath audit: error: could not run the probe: the service at {url} "
    )
    assert "did not answer" in error
    written = json.loads(report.read_text())  # the code's verdicts are still reported
    assert any("did not answer" in note for note in written["notes"])
