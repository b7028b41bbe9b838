"""TEST-2: a short run of the load scenario against the service as a real process, judged by
tests/load/smoke_thresholds.toml, through the same command a developer or CI runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from goldenpath_chassis import Service
from goldenpath_chassis.testing.databases import empty_database
from goldenpath_chassis.testing.figures import Figures

from tests.load import run
from tests.load.report import AGGREGATE, RequestStats

pytestmark = [pytest.mark.load, pytest.mark.database]

# A smoke, not a benchmark: enough users and seconds to exercise every request of the scenario
# concurrently and measure it; `python -m tests.load.run` with defaults runs the real thing.
SMOKE_USERS = 5
SMOKE_DURATION = "3s"
SMOKE_THRESHOLDS = Path(__file__).with_name("smoke_thresholds.toml")
SCENARIO = (
    "GET /v1/items/{item_id}",
    "GET /v1/items",
    "POST /v1/items",
    "PATCH /v1/items/{item_id}",
)


def test_test2_load_smoke_stays_within_the_thresholds(
    tmp_path: Path,
    service: Service,
    database_url: str,
    redis_url: str,
    figures: Figures,
) -> None:
    report_path = tmp_path / "load.json"
    argv = [
        "--users", str(SMOKE_USERS), "--duration", SMOKE_DURATION,
        "--database-url", database_url, "--redis-url", redis_url, "--report", str(report_path),
        "--thresholds", str(SMOKE_THRESHOLDS),
    ]  # fmt: skip
    # No --header: the run's own credentials, exactly as `python -m tests.load.run` gets them.
    try:
        exit_code = run.main(argv)
    finally:
        empty_database(service, database_url)

    assert report_path.exists(), "the load run failed before measuring anything; see its output"
    report = json.loads(report_path.read_text())
    stats = report["stats"]
    aggregate = RequestStats(**{k: v for k, v in stats[AGGREGATE].items() if k != "error_rate"})
    figures.add(
        "Load smoke (TEST-2)", f"{SMOKE_USERS} users for {SMOKE_DURATION}: {aggregate.summary()}"
    )
    for name in SCENARIO:
        assert stats.get(name, {}).get("requests", 0) > 0, f"the scenario never sent {name}"
    assert exit_code == run.EXIT_PASSED, (report["violations"], report["failures"])
    assert aggregate.failures == 0, report["failures"]
