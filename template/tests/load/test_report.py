"""TEST-2: the load run's verdict: thresholds read strictly, and each one able to fail a run;
and the load generator's environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.load.report import (
    AGGREGATE,
    Limits,
    RequestStats,
    Thresholds,
    evaluate,
    load_thresholds,
    read_stats,
)
from tests.load.run import (
    EXIT_RUN_FAILED,
    THRESHOLDS,
    duration_seconds,
    locust_environment,
    main,
)

pytestmark = pytest.mark.load

STATS_CSV = """\
Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,\
Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,\
90%,95%,98%,99%,99.9%,99.99%,100%
GET,/v1/items,100,2,12,15.2,3,90,400,33.3,0.6,12,14,16,18,25,40,60,80,90,90,90
POST,/v1/items,0,0,0,0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A
,Aggregated,100,2,12,15.2,3,90,400,33.3,0.6,12,14,16,18,25,40,60,80,90,90,90
"""


def stats(*, requests: int = 100, failures: int = 0, p95: float | None = 40.0) -> RequestStats:
    return RequestStats(AGGREGATE, requests, failures, 10.0, 10.0, p95, 90.0)


def test_test2_reads_locust_statistics(tmp_path: Path) -> None:
    path = tmp_path / "run_stats.csv"
    path.write_text(STATS_CSV)
    rows = read_stats(path)
    assert set(rows) == {"GET /v1/items", "POST /v1/items", AGGREGATE}
    assert rows[AGGREGATE].error_rate == 0.02
    assert (rows[AGGREGATE].p50_ms, rows[AGGREGATE].p95_ms, rows[AGGREGATE].p99_ms) == (12, 40, 80)
    assert rows["POST /v1/items"].p95_ms is None


def test_test2_the_committed_thresholds_are_valid() -> None:
    thresholds = load_thresholds(THRESHOLDS)
    assert thresholds.aggregate.max_error_rate is not None
    assert thresholds.aggregate.max_p95_ms is not None


def test_test2_a_misspelt_threshold_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.toml"
    path.write_text("[aggregate]\nmax_p59_ms = 100\n")
    with pytest.raises(ValueError, match="max_p59_ms"):
        load_thresholds(path)


@pytest.mark.parametrize(
    ("row", "limits", "complaint"),
    [
        (stats(failures=2), Limits(max_error_rate=0.01), "error rate 2.00% > 1.00%"),
        (stats(p95=600), Limits(max_p95_ms=500), "p95 600 ms > 500 ms"),
        (stats(requests=3), Limits(min_requests=20), "3 requests"),
    ],
)
def test_test2_each_threshold_fails_a_run(
    row: RequestStats, limits: Limits, complaint: str
) -> None:
    violations = evaluate({AGGREGATE: row}, Thresholds(aggregate=limits))
    assert len(violations) == 1
    assert complaint in violations[0]


def test_test2_a_run_within_the_thresholds_passes() -> None:
    limits = Limits(max_error_rate=0.01, max_p95_ms=500, min_requests=20)
    assert evaluate({AGGREGATE: stats()}, Thresholds(aggregate=limits)) == []


def test_test2_a_threshold_on_a_request_the_scenario_never_sent_fails() -> None:
    thresholds = Thresholds(aggregate=Limits(), requests={"DELETE /v1/items": Limits()})
    assert "never requested" in evaluate({AGGREGATE: stats()}, thresholds)[0]


def test_test2_no_statistics_at_all_fails() -> None:
    assert evaluate({}, Thresholds(aggregate=Limits())) != []


@pytest.mark.parametrize(
    ("text", "seconds"), [("90", 90), ("45s", 45), ("2m", 120), ("1h30m", 5400), ("1m5s", 65)]
)
def test_test2_durations_use_locusts_notation(text: str, seconds: int) -> None:
    assert duration_seconds(text) == seconds


@pytest.mark.parametrize("text", ["", "ten seconds", "5x"])
def test_test2_a_bad_duration_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        duration_seconds(text)


@pytest.mark.parametrize("text", ["0", "0s", "0m", "0h0m0s"])
def test_test2_a_zero_duration_is_refused(text: str) -> None:
    # Locust would take a run time of 0 as "no limit".
    with pytest.raises(ValueError, match="at least 1s"):
        duration_seconds(text)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--duration", "0"], "at least 1s"),
        (["--users", "0"], "at least 1 user"),
        (["--users", "-3"], "at least 1 user"),
    ],
)
def test_test2_a_run_that_would_measure_nothing_is_refused_before_it_starts(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        raise SystemExit(main(argv))
    assert exited.value.code == EXIT_RUN_FAILED
    assert message in capsys.readouterr().err


def test_test2_locust_runs_untraced_with_the_runs_headers() -> None:
    # What `uv run pytest` puts in the environment of every process it starts (coverage's
    # subprocess hook), beside what Locust needs.
    caller = {
        "PATH": "/usr/bin",
        "COVERAGE_PROCESS_CONFIG": "{}",
        "COVERAGE_PROCESS_START": "pyproject.toml",
    }
    env = locust_environment(caller, {"Authorization": "Bearer x"}, wait_for="/health/live")
    assert env == {
        "PATH": "/usr/bin",
        "LOAD_HEADERS": '{"Authorization": "Bearer x"}',
        "LOAD_WAIT_FOR": "/health/live",
    }
    assert "LOAD_WAIT_FOR" not in locust_environment(caller, {}, wait_for=None)
